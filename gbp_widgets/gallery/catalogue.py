"""What a Gallery shows, without widgets: the rows of a results folder filtered, sorted and
paged, the thumbnails of one page, and the pass fractions averaged per class.

Opening reads only the small columns (a few numbers per row, and the pass fractions);
pictures and maps are read for the rows of the page shown, by their ``index``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from gbp_widgets.dataset.results import DatasetResults, correctness, outcome_columns
from gbp_widgets.dataset.rows import MASK_NAMES
from gbp_widgets.dataset.store import import_pyarrow
from gbp_widgets.engine import rule_named

CORRECTNESS = ("all", "correct", "wrong")
SORTS = {
    "position": "position in the data",
    "confidence_low": "confidence, lowest first",
    "confidence_high": "confidence, highest first",
    "true_class": "true class",
    "predicted_class": "predicted class",
}
ALL = -1
# Curves beyond these many classes would be unreadable; the most frequent are drawn.
MOST_CURVES = 10


@dataclass(frozen=True)
class Filters:
    """Which rows, in which order: a class index or :data:`ALL`, one of
    :data:`CORRECTNESS`, a confidence range in [0, 1] and one of :data:`SORTS`."""

    true_class: int = ALL
    predicted_class: int = ALL
    correctness: str = "all"
    confidence: tuple[float, float] = (0.0, 1.0)
    sort: str = "position"

    def but(self, **changes) -> Filters:
        return replace(self, **changes)


@dataclass
class Tile:
    """One item of a page: its ``picture`` (``(h, w, 3)`` uint8, or ``None`` for inputs
    that are not pictures) and ``saliency`` (``(h, w)`` float), with its caption facts."""

    index: int
    picture: np.ndarray | None
    saliency: np.ndarray | None
    true_name: str | None
    predicted_name: str | None
    confidence: float | None
    correct: bool | None
    skipped: str | None


class Catalogue:
    """The rows of ``results``, ready to be filtered; ``classes`` names the model's
    outputs (default: those the job recorded, else ``class 0``, ``class 1``, ...)."""

    def __init__(self, results: DatasetResults, classes: list[str] | None = None) -> None:
        self.results = results
        manifest = results.manifest
        self.classes = list(classes or manifest.get("classes") or [])
        self.label_names = manifest.get("label_names")
        self.sites = results.sites
        table = results.summary_table()
        self._pass_column = table["pass_fraction"]
        self.shard = table["shard"].to_numpy(zero_copy_only=False)
        pc = import_pyarrow().compute
        self.index = table["index"].to_numpy()
        self.label, self.predicted, self.skipped = outcome_columns(table)
        first = pc.list_element(table["top5_probability"], 0)
        self.confidence = first.to_numpy(zero_copy_only=False).astype(np.float32)
        self.correct = correctness(
            self.label, self.predicted, self.skipped, self.label_names, self.classes
        )
        self.passing_name = MASK_NAMES[rule_named(manifest["rule"]).passing_mask]
        self._passing: np.ndarray | None = None
        self._true_classes = np.unique(self.label[self.label >= 0]).tolist()
        self._predicted_classes = np.unique(self.predicted[self.predicted >= 0]).tolist()

    def __len__(self) -> int:
        return len(self.index)

    @property
    def labelled(self) -> bool:
        return bool((self.label >= 0).any())

    def class_name(self, k: int) -> str:
        """The model's name for output ``k``."""
        return self.classes[k] if 0 <= k < len(self.classes) else f"class {k}"

    def true_name(self, label: int) -> str:
        """The name of true label ``label``: a folder name, or the model's class name."""
        if label < 0:
            return "unlabelled"
        if self.label_names:
            return self.label_names[label]
        return self.class_name(label)

    def true_classes(self) -> list[int]:
        return self._true_classes

    def predicted_classes(self) -> list[int]:
        return self._predicted_classes

    def select(self, filters: Filters) -> np.ndarray:
        """Row positions kept by ``filters``, in their order."""
        self.check(filters)
        keep = np.ones(len(self), dtype=bool)
        if filters.true_class != ALL:
            keep &= self.label == filters.true_class
        if filters.predicted_class != ALL:
            keep &= self.predicted == filters.predicted_class
        if filters.correctness != "all":
            keep &= self.correct == (1 if filters.correctness == "correct" else 0)
        low, high = filters.confidence
        if (low, high) != (0.0, 1.0):
            keep &= (self.confidence >= low) & (self.confidence <= high)
        rows = np.flatnonzero(keep)
        return rows[np.argsort(self._sort_key(filters.sort)[rows], kind="stable")]

    def check(self, filters: Filters) -> None:
        """Refuse filters that cannot be applied, saying what can."""
        if filters.correctness not in CORRECTNESS:
            raise ValueError(
                f"correctness {filters.correctness!r}: use {', '.join(map(repr, CORRECTNESS))}"
            )
        if filters.correctness != "all" and not self.knows_correctness:
            raise ValueError(
                "these rows cannot be split into correct and wrong: "
                + self.correctness_unknown_reason()
            )
        if filters.sort not in SORTS:
            raise ValueError(f"sort {filters.sort!r}: use {', '.join(map(repr, SORTS))}")
        low, high = filters.confidence
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"confidence range {filters.confidence}: use 0 <= low <= high <= 1")
        for name, value, present in (
            ("true class", filters.true_class, self.true_classes()),
            ("predicted class", filters.predicted_class, self.predicted_classes()),
        ):
            if value != ALL and value not in present:
                raise ValueError(
                    f"no item has {name} {value}: use one of {present[:20]} or all ({ALL})"
                )

    @property
    def knows_correctness(self) -> bool:
        return self.correct is not None

    def correctness_unknown_reason(self) -> str:
        if not self.labelled:
            return "the items have no labels"
        return "the folder names are not the model's class names"

    def tiles(self, rows: np.ndarray) -> list[Tile]:
        """The tiles of the rows at positions ``rows``, their pictures and maps read now."""
        found = self.results.rows(
            self.index[rows], ["index", "picture", "saliency", "skipped"], self.shard[rows]
        )
        maps = _maps(found["saliency"])
        by_index = {
            index: {"picture": picture, "saliency": map_, "skipped": skipped}
            for index, picture, map_, skipped in zip(
                found["index"].to_pylist(),
                found["picture"].to_pylist(),
                maps,
                found["skipped"].to_pylist(),
                strict=True,
            )
        }
        return [self._tile(row, by_index.get(int(self.index[row]), {})) for row in rows]

    def pass_curves(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Per class (true class where labelled, else predicted), the mean share of units let
        through at every site over ``rows``: ``(sites,)`` float arrays, most frequent class
        first, at most :data:`MOST_CURVES`."""
        rows = rows[~self.skipped[rows]]
        groups = self.label if self.labelled else self.predicted
        passing = self.passing()
        classes, counts = np.unique(groups[rows], return_counts=True)
        curves = {}
        for k in classes[np.argsort(-counts, kind="stable")][:MOST_CURVES]:
            chosen = rows[groups[rows] == k]
            name = self.true_name(int(k)) if self.labelled else self.class_name(int(k))
            curves[f"{name} ({len(chosen)})"] = passing[chosen].mean(axis=0)
        return curves

    def passing(self) -> np.ndarray:
        """``(rows, sites)`` float32 pass fractions (NaN for skipped rows), read once."""
        if self._passing is None:
            column = self._pass_column
            passing = np.full((len(self), len(self.sites)), np.nan, dtype=np.float32)
            valid = column.is_valid().to_numpy(zero_copy_only=False)
            if valid.any() and self.sites:
                values = import_pyarrow().compute.list_flatten(column).to_numpy()
                passing[valid] = values.reshape(-1, len(self.sites))
            self._passing = passing
        return self._passing

    def _tile(self, row: int, stored: dict) -> Tile:
        skipped = bool(self.skipped[row])
        predicted = int(self.predicted[row])
        saliency = stored.get("saliency")
        return Tile(
            index=int(self.index[row]),
            picture=_decoded(stored.get("picture")),
            saliency=saliency,
            true_name=self.true_name(int(self.label[row])) if self.label[row] >= 0 else None,
            predicted_name=None if predicted < 0 else self.class_name(predicted),
            confidence=None if skipped else float(self.confidence[row]),
            correct=None if self.correct is None or skipped else bool(self.correct[row] == 1),
            skipped=stored.get("skipped"),
        )

    def _sort_key(self, sort: str) -> np.ndarray:
        if sort == "confidence_low":
            return np.nan_to_num(self.confidence, nan=2.0)
        if sort == "confidence_high":
            return -np.nan_to_num(self.confidence, nan=-1.0)
        if sort == "true_class":
            return self.label * 2.0 - np.nan_to_num(self.confidence, nan=0.0)
        if sort == "predicted_class":
            return self.predicted * 2.0 - np.nan_to_num(self.confidence, nan=0.0)
        return self.index.astype(np.float64)


def _maps(column) -> list[np.ndarray | None]:
    """A list-of-lists column of maps as ``(h, w)`` float32 arrays, without Python lists."""
    maps = []
    for value in column.combine_chunks() if hasattr(column, "combine_chunks") else column:
        if not value.is_valid:
            maps.append(None)
            continue
        rows = value.values
        # flatten(), not .values: a slice's .values is the whole chunk's, offsets ignored.
        flat = rows.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
        maps.append(flat.reshape(len(rows), -1))
    return maps


def _decoded(png: bytes | None) -> np.ndarray | None:
    if png is None:
        return None
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
