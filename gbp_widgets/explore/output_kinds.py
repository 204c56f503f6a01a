"""One class per kind of model output: class scores, one score, a dense map of class scores,
or torchvision detections. Each says what the output offers the Explorer (its target kinds,
its classes, how probable each is, what explaining a class means) and holds everything that
differs between kinds: the label map and regions of a dense output, a detector's boxes.

A kind is made for one item's recording (:func:`output_kind`) and keeps what it derives from
it. A new kind of output is one class here, registered in :data:`OUTPUT_KINDS`; nothing else
in the package asks which kind an output is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from scipy import ndimage

from gbp_widgets.engine import Region
from gbp_widgets.explore.names import MAP_PANELS, SCORE_THRESHOLD
from gbp_widgets.explore.view import Cut, DetectionScore, View, panel_position
from gbp_widgets.explore.words import unknown_class_message
from gbp_widgets.models import coco_classes, imagenet_classes
from gbp_widgets.pictures import drawing
from gbp_widgets.pictures.colour_keys import LabelKey, label_key
from gbp_widgets.pictures.figures import top_classes_title

State = Mapping[str, object]
ClassName = Callable[[int], str]


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
    # The panels of the first row, and those the kind draws itself (:meth:`panel`).
    map_panels: tuple[str, ...] = MAP_PANELS
    own_panels: tuple[str, ...] = ()
    # Whether the output lists boxes (the detection menu and the min score apply).
    boxes = False

    def __init__(self, raw: object, logits: torch.Tensor | None) -> None:
        self.raw, self.logits = raw, logits
        self._regions: dict[int, Region] = {}

    @staticmethod
    def fits(raw: object, logits: torch.Tensor | None) -> bool:
        """Whether an output ``raw`` with scores ``logits`` is of this kind."""
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

    def probabilities(self) -> np.ndarray:
        """``(K,)``: the softmax of the class scores of the item shown."""
        return torch.softmax(self.logits.detach()[0].double().cpu(), dim=0).numpy()

    def top(self, k: int, threshold: float, class_name: ClassName) -> list[tuple[int, str, float]]:
        """The ``k`` most probable classes as ``(index, name, probability)``."""
        probabilities = self.probabilities()
        order = np.argsort(probabilities)[::-1][:k]
        return [(int(i), class_name(int(i)), float(probabilities[i])) for i in order]

    def title(self, classes: Sequence[str], threshold: float) -> str:
        """The top classes, for a figure's title."""
        top = self.top(
            5, threshold, lambda i: classes[i] if 0 <= i < len(classes) else f"class {i}"
        )
        return self.lead + "  ".join(
            f"{r}. {name} {100 * p:.1f}%" for r, (_, name, p) in enumerate(top, 1)
        )

    def class_target(self, cls: int) -> object:
        """What explaining class ``cls`` means: the class index itself."""
        return cls

    def region(self, cls: int) -> Region:
        """``Region(cls)`` over every position, one object per class (a stable cache key)."""
        return self._regions.setdefault(cls, Region(cls))

    def output_target(self, state: State) -> object:
        """What is explained at the output for the Explorer's ``state``: the class."""
        return self.class_target(state["target"])

    def chosen(self, state: State) -> object:
        """What the output panel or the boxes single out for ``state`` (nothing)."""
        return None

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
        return "regions are for dense outputs (N, K, *positions); this model's output is not"

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


class ClassScores(OutputKind):
    words = "class scores (N, K)"

    @staticmethod
    def fits(raw, logits):
        return logits is not None and logits.dim() == 2

    def title(self, classes, threshold):
        return top_classes_title(self.probabilities(), classes)


class OneScore(OutputKind):
    words = "one score per item (N,)"

    @staticmethod
    def fits(raw, logits):
        return logits is not None and logits.dim() == 1

    def class_count(self) -> int:
        return 1

    def class_names(self, given):
        return ("score",) if given is None else super().class_names(given)

    def probabilities(self) -> np.ndarray:
        # The score itself: there is nothing to normalise it against.
        return self.logits.detach()[:1].double().cpu().numpy()

    def class_target(self, cls: int) -> object:
        return None


class DenseMap(OutputKind):
    """``(N, K, *positions)``: a class predicted at every position, shown as a label map
    whose regions are targets."""

    words = "a dense map of class scores (N, K, *positions)"
    lead = "share of positions: "
    targets = ("class", "region")
    map_panels = ("input", "output", "attribution", "activation")
    own_panels = ("output",)

    @staticmethod
    def fits(raw, logits):
        return logits is not None and logits.dim() > 2

    @cached_property
    def labels(self) -> np.ndarray:
        """The class predicted at each position, ``(*positions)``."""
        return self.logits.detach()[0].argmax(0).cpu().numpy()

    def probabilities(self) -> np.ndarray:
        """The fraction of positions where each class is predicted."""
        labels = self.labels.reshape(-1)
        return np.bincount(labels, minlength=self.logits.shape[1]) / labels.size

    def class_target(self, cls: int) -> Region:
        """Every position of the class."""
        return self.region(cls)

    def output_target(self, state: State) -> object:
        if state["target_kind"] == "region" and state["region"] is not None:
            return state["region"]
        return super().output_target(state)

    def chosen(self, state: State) -> object:
        return state["region"] if state["target_kind"] == "region" else None

    def check_region(self, value: object) -> str:
        if not isinstance(value, Region) or value.mask is None:
            return "region must be a Region(cls, mask) with a bool mask of the output's positions"
        spatial = tuple(self.logits.shape[2:])
        mask = np.asarray(value.mask)
        if mask.dtype != bool or mask.shape != spatial or not mask.any():
            return (
                f"the region's mask must be a bool array of shape {spatial} with at least one "
                f"position on; it has dtype {mask.dtype} and shape {mask.shape}"
            )
        return ""

    def panel(self, name: str, view: View) -> np.ndarray:
        """The label map (the slice at the cut for volumes), the chosen region bright and
        the rest dimmed: ``(h, w, 4)``."""
        labels, region = self.labels, view.chosen
        chosen = (
            np.asarray(region.mask)
            if isinstance(region, Region) and region.mask is not None
            else None
        )
        if labels.ndim == 1:
            labels = labels[None]
            chosen = chosen[None] if chosen is not None else None
        elif labels.ndim == 3:
            labels = view.cut.take(labels)
            chosen = view.cut.take(chosen) if chosen is not None else None
        return drawing.label_map(labels, chosen)

    def keys(self, class_name):
        return {"output": label_key(self.labels, class_name)}

    def region_at(self, row: int, column: int, size: int, cut: Cut) -> Region:
        """The 4-connected region of the class predicted under output-panel pixel
        ``(row, column)``, as ``Region(cls, mask)`` with a mask of the output's positions."""
        labels = self.labels
        position = panel_position(labels.shape, row, column, size, cut)
        return Region(int(labels[position]), connected_region(labels, position))

    def click(self, panel, row, column, size, view, photo):
        if panel != "output":
            return {}
        return {"region": self.region_at(row, column, size, view.cut), "target_kind": "region"}

    def readout(self, row, column, size, cut, class_name):
        at = panel_position(self.labels.shape, row, column, size, cut)
        return {"predicted": class_name(int(self.labels[at]))}


class Detections(OutputKind):
    """torchvision's list of dicts: boxes with classes and scores, each box a target."""

    words = "torchvision detections (a list of dicts with boxes, labels, scores)"
    lead = "scores: "
    targets = ("detection",)
    boxes = True

    @staticmethod
    def fits(raw, logits):
        return (
            isinstance(raw, (list, tuple))
            and len(raw) > 0
            and isinstance(raw[0], dict)
            and {"boxes", "scores", "labels"} <= set(raw[0])
        )

    def class_names(self, given):
        return tuple(given) if given is not None else coco_classes()

    def top(self, k, threshold, class_name):
        return [(d.index, class_name(d.label), d.score) for d in self.detections(threshold)[:k]]

    def output_target(self, state: State) -> object:
        if state["detection"] is None:
            raise ValueError(
                f"no detection scores at least {state['score_threshold']:g}: lower the min score"
            )
        return DetectionScore(state["detection"])

    def chosen(self, state: State) -> object:
        return state["detection"]

    def check_class(self, value, classes) -> str:
        # A detector's target is its detection: the class box is not shown.
        return ""

    def detections(self, threshold: float = SCORE_THRESHOLD) -> list[Detection]:
        found = self.raw[0]
        scores = found["scores"].detach().float().cpu().numpy()
        boxes = found["boxes"].detach().float().cpu().numpy()
        labels = found["labels"].detach().cpu().numpy()
        return [
            Detection(int(i), int(labels[i]), float(scores[i]), tuple(float(v) for v in boxes[i]))
            for i in np.argsort(-scores, kind="stable")
            if scores[i] >= threshold
        ]

    def marks(self, view: View) -> object:
        return view.score_threshold, view.chosen

    def on_input(self, picture, view, size, photo):
        """The boxes scoring at least the threshold, the chosen one outlined."""
        found = self.detections(view.score_threshold)
        height, width = photo
        boxes = [
            (b[0] * size / width, b[1] * size / height, b[2] * size / width, b[3] * size / height)
            for b in (d.box for d in found)
        ]
        indices = [d.index for d in found]
        chosen = indices.index(view.chosen) if view.chosen in indices else None
        return drawing.boxes_on(picture, boxes, chosen)

    def click(self, panel, row, column, size, view, photo):
        if panel != "input":
            return {}
        found = self.detection_at(row, column, size, photo, view.score_threshold)
        if found is None:
            raise ValueError("no detection's box is there: click inside a box")
        return {"detection": found.index, "target_kind": "detection"}


OUTPUT_KINDS: dict[str, type[OutputKind]] = {
    "classes": ClassScores,
    "score": OneScore,
    "dense": DenseMap,
    "detection": Detections,
}
"""Every kind of output, by name, each tried against a model's output."""


def output_kind(raw: object, chosen: torch.Tensor | None) -> OutputKind:
    """The kind of ``raw`` (the scores ``chosen`` from it, when a tensor): the first in
    :data:`OUTPUT_KINDS` that fits; a ``ValueError`` saying what the Explorer shows
    otherwise."""
    for kind in OUTPUT_KINDS.values():
        if kind.fits(raw, chosen):
            return kind(raw, chosen)
    shown = "; ".join(k.words for k in OUTPUT_KINDS.values() if k is not OneScore)
    raise ValueError(
        f"the Explorer shows models whose output is {shown}. Choose the scores with output= "
        "(a key, an index or a function returning a tensor)"
    )


def detection_at(found: list[Detection], x: float, y: float) -> Detection | None:
    """The smallest box containing input point ``(x, y)``, if any."""
    inside = [d for d in found if d.box[0] <= x <= d.box[2] and d.box[1] <= y <= d.box[3]]
    if not inside:
        return None
    return min(inside, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))


def connected_region(labels: np.ndarray, position: tuple[int, ...]) -> np.ndarray:
    """The bool mask of positions 4-connected to ``position`` with the same label
    (face-connected in 3-D)."""
    same = labels == labels[position]
    components, _ = ndimage.label(same, structure=ndimage.generate_binary_structure(same.ndim, 1))
    return components == components[position]
