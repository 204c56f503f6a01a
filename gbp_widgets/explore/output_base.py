"""What every kind of model output offers the Explorer (:class:`OutputKind`, the defaults
being class scores'), and the detections a detector lists. The kinds themselves are
:mod:`gbp_widgets.explore.output_kinds`' and :mod:`gbp_widgets.explore.next_tokens`'."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gbp_widgets.engine import Region
from gbp_widgets.explore.names import MAP_PANELS, SCORE_THRESHOLD
from gbp_widgets.explore.view import Cut, View
from gbp_widgets.explore.words import unknown_class_message
from gbp_widgets.models import imagenet_classes
from gbp_widgets.pictures.colour_keys import LabelKey

State = Mapping[str, object]
ClassName = Callable[[int], str]


@dataclass(frozen=True)
class Tokens:
    """The token ids ``(N, T)`` an output was made from, and the id of the tokenizer's mask
    token (``None``: it has none)."""

    ids: torch.Tensor
    mask: int | None = None


@dataclass(frozen=True)
class Detection:
    """One detection of the shown item: its position in the model's list, class, score
    and box ``(x0, y0, x1, y1)`` in input pixels."""

    index: int
    label: int
    score: float
    box: tuple[float, float, float, float]


class OutputKind:
    """What a model's output is for one item, and what it offers the Explorer: ``raw`` is
    the model's output, ``logits`` the scores chosen from it (``None`` for detections).
    The defaults are class scores'; each kind overrides what differs."""

    words = ""
    # Before the top classes in a figure's title.
    lead = ""
    # The target kinds the output offers itself (the site's channels and units come on top).
    targets: tuple[str, ...] = ("class",)
    # Their labels where the kind's words fit better than the shared ones.
    target_labels: Mapping[str, str] = {}
    # The panels of the first row, and those the kind draws itself (:meth:`panel`).
    map_panels: tuple[str, ...] = MAP_PANELS
    own_panels: tuple[str, ...] = ()
    # Whether the output lists boxes (the detection menu and the min score apply).
    boxes = False
    # Whether its classes are a tokenizer's vocabulary (named by the tokenizer).
    spelled = False
    # How the token a token target scores stands to its positions, in captions.
    scored = "next, after"

    def __init__(self, raw: object, logits: torch.Tensor | None, tokens: Tokens | None) -> None:
        self.raw, self.logits, self.tokens = raw, logits, tokens
        self._regions: dict[int, Region] = {}

    @staticmethod
    def fits(raw: object, logits: torch.Tensor | None, tokens: Tokens | None) -> bool:
        """Whether an output ``raw`` with scores ``logits``, made from ``tokens`` (or
        ``None``), is of this kind."""
        raise NotImplementedError

    def class_count(self) -> int:
        return self.logits.shape[1]

    def class_names(self, given: Sequence[str] | None) -> tuple[str, ...]:
        """The classes' names: ``given`` (one per class), else the kind's own."""
        count = self.class_count()
        if given is None:
            return (
                imagenet_classes() if count == 1000 else tuple(f"class {i}" for i in range(count))
            )
        if len(given) != count:
            raise ValueError(f"{len(given)} class names given for a model with {count} outputs")
        return tuple(given)

    def probabilities(self, region: Region | None = None) -> np.ndarray:
        """``(K,)``: the softmax of the class scores of the item shown (within ``region``'s
        positions, for the kinds whose outputs have positions)."""
        return torch.softmax(self.logits.detach()[0].double().cpu(), dim=0).numpy()

    def top(
        self, k: int, threshold: float, class_name: ClassName, region: Region | None = None
    ) -> list[tuple[int, str, float]]:
        """The ``k`` most probable classes as ``(index, name, probability)``."""
        probabilities = self.probabilities(region)
        order = np.argsort(probabilities)[::-1][:k]
        return [(int(i), class_name(int(i)), float(probabilities[i])) for i in order]

    def title(self, classes: Sequence[str], threshold: float, chosen: object = None) -> str:
        """The top classes (within the region ``chosen``, if one is), for a figure's title."""
        top = self.top(
            5,
            threshold,
            lambda i: classes[i] if 0 <= i < len(classes) else f"class {i}",
            chosen if isinstance(chosen, Region) else None,
        )
        return self.lead + "  ".join(
            f"{r}. {name} {100 * p:.1f}%" for r, (_, name, p) in enumerate(top, 1)
        )

    def class_target(self, cls: int, region: Region | None = None) -> object:
        """What explaining class ``cls`` (within ``region``, for the kinds that offer
        regions) means: the class index itself."""
        return cls

    def region(self, cls: int) -> Region:
        """``Region(cls)`` over every position, one object per class (a stable cache key)."""
        return self._regions.setdefault(cls, Region(cls))

    def where(self, state: State) -> Region | None:
        """The region explained for ``state`` (``None``: the class is, at its default place)."""
        return state["region"] if state["target_kind"] == "region" else None

    def output_target(self, state: State) -> object:
        """What is explained at the output for the Explorer's ``state``: the class, or the
        region chosen."""
        region = self.where(state)
        if region is None:
            return self.class_target(state["target"])
        return self.class_target(region.cls, region)

    def class_picked(self, state: State, cls: int) -> dict[str, object]:
        """The trait changes picking class ``cls`` (a top-5 button, a name typed) asks for:
        that class explained, within the region chosen if one is."""
        region = self.where(state)
        if region is None:
            return {"target": cls, "target_kind": "class"}
        return {"target": cls, "region": Region(cls, region.mask)}

    def sanity_target(self, state: State) -> object:
        """The engine target of the sanity check for ``state``: the class, for the one item."""
        return [state["target"]]

    def chosen(self, state: State) -> object:
        """What the output panel or the boxes single out for ``state``: the region chosen."""
        return self.where(state)

    def check_class(self, value: object, classes: Sequence[str]) -> str:
        """What is wrong with class ``value`` (an index or a name) ("" when nothing is)."""
        if isinstance(value, str):
            return "" if value in classes else unknown_class_message(value, classes)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            return f"class must be a whole number, not {value!r}"
        k = len(classes)
        return (
            ""
            if 0 <= value < k
            else f"class {value} is out of range: this model has {k} (0 to {k - 1})"
        )

    def check_region(self, value: object) -> str:
        return (
            "regions are for outputs with positions, a dense map (N, K, *positions) or "
            "next-token scores (N, T, V); this model's output is neither"
        )

    def detections(self, threshold: float = SCORE_THRESHOLD) -> list[Detection]:
        """The item's detections scoring at least ``threshold``, best first (none)."""
        return []

    def detection_at(
        self, row: int, column: int, size: int, photo: tuple[int, int], threshold: float
    ) -> Detection | None:
        """The detection whose box holds input-panel pixel ``(row, column)`` (the smallest)."""
        height, width = photo
        x, y = (column + 0.5) * width / size, (row + 0.5) * height / size
        return detection_at(self.detections(threshold), x, y)

    def panel(self, name: str, view: View) -> np.ndarray:
        """Panel ``name`` of :attr:`own_panels` for ``view``."""
        raise NotImplementedError

    def keys(self, class_name: ClassName) -> dict[str, LabelKey]:
        """How to read the output's own panels, by panel name."""
        return {}

    def on_input(self, picture: np.ndarray, view: View, size: int, photo: tuple[int, int]):
        """The input panel ``picture`` with what the output marks on it (nothing); ``photo``
        is the ``(height, width)`` of the input's photo."""
        return picture

    def marks(self, view: View) -> object:
        """What :meth:`on_input` draws depends on, for a picture cache's key."""
        return None

    def click(self, panel: str, row: int, column: int, size: int, view: View, photo) -> dict:
        """The trait changes a click on ``panel`` asks for (none)."""
        return {}

    def readout(self, row: int, column: int, size: int, cut: Cut, class_name: ClassName) -> dict:
        """What the read-out adds under a panel pixel (nothing)."""
        return {}


def detection_at(found: list[Detection], x: float, y: float) -> Detection | None:
    """The smallest box containing input point ``(x, y)``, if any."""
    inside = [d for d in found if d.box[0] <= x <= d.box[2] and d.box[1] <= y <= d.box[3]]
    if not inside:
        return None
    return min(inside, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
