"""What ``explain_dataset`` wrote, read back lazily."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gbp_widgets.dataset.store import ResultsFolder, import_pyarrow


class DatasetResults:
    """The results folder ``out``: its rows as a pyarrow table or a pandas frame, one item
    by its position in the data, and what the job was (:attr:`manifest`, :attr:`sites`).

    Nothing is read until asked for; ``pandas.read_parquet(out)`` reads the same rows.
    """

    def __init__(self, out: str | Path) -> None:
        self.folder = ResultsFolder(out)
        if self.folder.manifest() is None:
            raise ValueError(f"{str(out)!r} holds no explain_dataset results")

    @property
    def path(self) -> Path:
        return self.folder.path

    @property
    def manifest(self) -> dict:
        """The arguments that decided the rows (weights fingerprint, length, rule, ...)."""
        return self.folder.manifest()

    def _dataset(self):
        return import_pyarrow().dataset.dataset(self.path, format="parquet")

    @property
    def sites(self) -> list[str]:
        """The sites of ``pass_fraction``, in order."""
        for fragment in self._dataset().get_fragments():
            names = json.loads(fragment.physical_schema.metadata.get(b"sites", b"[]"))
            if names:
                return names
        return []

    def __len__(self) -> int:
        return self._dataset().count_rows()

    def table(self, columns: list[str] | None = None):
        """The rows (of ``columns`` only, if given) as a pyarrow table, by ``index``."""
        table = self._dataset().to_table(columns=columns)
        return table.sort_by("index") if "index" in table.column_names else table

    def to_pandas(self, columns: list[str] | None = None):
        """The rows as a pandas frame, by ``index``."""
        return self.table(columns).to_pandas()

    def rows(self, indices, columns: list[str] | None = None, shards=None):
        """The rows of the items at positions ``indices`` (any order), as a pyarrow table.
        Only the shards that hold them are read: ``shards`` (their file names) where the
        caller knows them, else found through the summary when it is up to date, else by
        the shards' index statistics."""
        pa = import_pyarrow()
        wanted = pa.dataset.field("index").isin([int(i) for i in indices])
        if shards is None:
            summary = self.folder.summary(build=False)
            if summary is None:
                return self._dataset().to_table(columns=columns, filter=wanted)
            shards = summary.select(["index", "shard"]).filter(wanted)["shard"].to_pylist()
        paths = [str(self.path / name) for name in sorted(set(shards))]
        if not paths:
            return self._dataset().to_table(columns=columns, filter=wanted)
        return pa.dataset.dataset(paths, format="parquet").to_table(columns=columns, filter=wanted)

    def summary_table(self):
        """Every row's small columns (no maps, no pictures) and its shard, by ``index``,
        from one file: see :meth:`ResultsFolder.summary`."""
        table = self.folder.summary()
        if table is None:
            raise ValueError(f"{str(self.path)!r} holds no rows yet")
        return table

    def item(self, index: int) -> dict:
        """The row of the item at position ``index`` in the data; ``saliency`` as a
        ``(h, w)`` float16 array."""
        found = self.rows([index])
        if found.num_rows == 0:
            raise KeyError(f"no item {index} in {str(self.path)!r} (yet)")
        row = found.slice(0, 1).to_pylist()[0]
        if row["saliency"] is not None:
            row["saliency"] = np.asarray(row["saliency"], dtype=np.float16)
        return row

    def summary(self, classes: list[str] | tuple[str, ...] | None = None) -> str:
        """Items, skipped, accuracy (where labels can be compared with predictions: class
        indices, or folder names among ``classes``, the model's class names) and where the
        results are, in a few lines."""
        table = self.summary_table()
        label, predicted, skipped = outcome_columns(table)
        lines = [f"{len(label)} items, {skipped.sum()} skipped (reasons in the 'skipped' column)"]
        names = self.manifest.get("label_names")
        correct = correctness(label, predicted, skipped, names, classes)
        if correct is not None:
            judged = correct >= 0
            right = (correct == 1).sum()
            lines.append(
                f"accuracy {100 * right / judged.sum():.1f}% on {judged.sum()} labelled items"
            )
        elif names and (label >= 0).any():
            lines.append(
                "labelled by folder names that are not the model's class names: no accuracy"
            )
        areas = [f"{name}_auc" for name in self.manifest.get("metrics", [])]
        if areas:
            compute = import_pyarrow().compute
            table = self.table(columns=areas)
            means = [f"{name} {compute.mean(table[name]).as_py():.3f}" for name in areas]
            lines.append(f"mean {', '.join(means)} (per item in the columns of those names)")
        lines.append(f"results in {self.path} (pandas.read_parquet reads the folder)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"DatasetResults({str(self.path)!r}: {len(self)} rows)"


def outcome_columns(table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From a table of rows: ``label`` and ``predicted`` as ``(N,)`` int64 arrays, -1 where
    there is none, and ``skipped`` as an ``(N,)`` bool array."""

    def ints(column) -> np.ndarray:
        return column.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)

    skipped = table["skipped"].is_valid().to_numpy(zero_copy_only=False)
    return ints(table["label"]), ints(table["predicted"]), skipped


def correctness(
    label: np.ndarray,
    predicted: np.ndarray,
    skipped: np.ndarray,
    label_names: list[str] | None,
    classes,
) -> np.ndarray | None:
    """Per row (labels and predictions as ints, -1 for none): 1 where the prediction is the
    label, 0 where not, -1 where there is nothing to judge (skipped, unlabelled). Labels are
    class indices, or, with ``label_names`` (a folder's), names looked up in ``classes``.
    ``None`` when no row can be judged."""
    labelled = (label >= 0) & ~skipped
    if not labelled.any():
        return None
    if label_names:
        if not classes or not set(label_names) <= set(classes):
            return None
        as_class = np.array([list(classes).index(name) for name in label_names])
        label = np.where(label >= 0, as_class[np.maximum(label, 0)], -1)
    return np.where(labelled, label == predicted, -1).astype(np.int8)
