"""What a model's output offers the Explorer: class scores, a dense map of them, or
torchvision detections; and the targets each kind gives (classes, regions, boxes)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from gbp_widgets.explore.names import OUTPUT_KINDS
from gbp_widgets.models import coco_classes, imagenet_classes


@dataclass(frozen=True)
class Detection:
    """One detection of the shown item: its position in the model's list, class, score
    and box ``(x0, y0, x1, y1)`` in input pixels."""

    index: int
    label: int
    score: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class DetectionScore:
    """A target: the score of detection ``index`` of the first (only) item, ``(1,)``.

    A callable, as the engine takes for outputs that are not score tensors; equal
    objects for equal indices, so a pass is cached by detection.
    """

    index: int

    def __call__(self, output: object) -> torch.Tensor:
        return output[0]["scores"][self.index : self.index + 1]


class OutputKind:
    """What a model's output is and what it offers the Explorer: its target kinds, its
    classes' names, how probable each class is, what explaining a class means."""

    words = ""
    # The target kinds the output offers itself (the site's channels and units come on top).
    targets: tuple[str, ...] = ("class",)
    # Before the top classes in a figure's title.
    lead = ""

    def class_count(self, logits: torch.Tensor) -> int:
        return logits.shape[1]

    def default_names(self, count: int) -> tuple[str, ...]:
        return imagenet_classes() if count == 1000 else tuple(f"class {i}" for i in range(count))

    def probabilities(self, logits: torch.Tensor) -> np.ndarray:
        """``(K,)``: the softmax of the class scores of the item shown."""
        return torch.softmax(logits.detach()[0].double().cpu(), dim=0).numpy()

    def class_target(self, cls: int, region: Callable[[int], object]) -> object:
        """What explaining class ``cls`` means: the class index itself."""
        return cls


class ClassScores(OutputKind):
    words = OUTPUT_KINDS["classes"]


class OneScore(OutputKind):
    words = "one score per item (N,)"

    def class_count(self, logits: torch.Tensor) -> int:
        return 1

    def default_names(self, count: int) -> tuple[str, ...]:
        return ("score",)

    def probabilities(self, logits: torch.Tensor) -> np.ndarray:
        # The score itself: there is nothing to normalise it against.
        return logits.detach()[:1].double().cpu().numpy()

    def class_target(self, cls: int, region: Callable[[int], object]) -> object:
        return None


class DenseMap(OutputKind):
    words = OUTPUT_KINDS["dense"]
    targets = ("class", "region")
    lead = "share of positions: "

    def probabilities(self, logits: torch.Tensor) -> np.ndarray:
        """The fraction of positions where each class is predicted."""
        return class_shares(logits)

    def class_target(self, cls: int, region: Callable[[int], object]) -> object:
        """Every position of the class: ``region(cls)``."""
        return region(cls)


class Detections(OutputKind):
    words = OUTPUT_KINDS["detection"]
    targets = ("detection",)
    lead = "scores: "

    def default_names(self, count: int) -> tuple[str, ...]:
        return coco_classes()


def output_kind(raw: object, chosen: torch.Tensor | None) -> OutputKind:
    """:class:`ClassScores` for ``(N, K)`` scores, :class:`DenseMap` for
    ``(N, K, *positions)``, :class:`OneScore` for ``(N,)``, :class:`Detections` for
    torchvision's list of dicts; a ``ValueError`` saying what the Explorer shows otherwise."""
    if chosen is not None and chosen.dim() == 1:
        return OneScore()
    if chosen is not None and chosen.dim() == 2:
        return ClassScores()
    if chosen is not None and chosen.dim() > 2:
        return DenseMap()
    if _is_detection(raw):
        return Detections()
    kinds = "; ".join(OUTPUT_KINDS.values())
    raise ValueError(
        f"the Explorer shows models whose output is {kinds}. Choose the scores with output= "
        "(a key, an index or a function returning a tensor)"
    )


def _is_detection(raw: object) -> bool:
    return (
        isinstance(raw, (list, tuple))
        and len(raw) > 0
        and isinstance(raw[0], dict)
        and {"boxes", "scores", "labels"} <= set(raw[0])
    )


def detections(raw: object, threshold: float) -> list[Detection]:
    """The first item's detections scoring at least ``threshold``, best first."""
    found = raw[0]
    scores = found["scores"].detach().float().cpu().numpy()
    boxes = found["boxes"].detach().float().cpu().numpy()
    labels = found["labels"].detach().cpu().numpy()
    return [
        Detection(int(i), int(labels[i]), float(scores[i]), tuple(float(v) for v in boxes[i]))
        for i in np.argsort(-scores, kind="stable")
        if scores[i] >= threshold
    ]


def detection_at(found: list[Detection], x: float, y: float) -> Detection | None:
    """The smallest box containing input point ``(x, y)``, if any."""
    inside = [d for d in found if d.box[0] <= x <= d.box[2] and d.box[1] <= y <= d.box[3]]
    if not inside:
        return None
    return min(inside, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))


def predicted_labels(scores: torch.Tensor) -> np.ndarray:
    """The class predicted at every position of a dense ``(1, K, *positions)`` output."""
    return scores.detach()[0].argmax(0).cpu().numpy()


def class_shares(scores: torch.Tensor) -> np.ndarray:
    """``(K,)`` fraction of positions where each class is predicted, for a dense output."""
    labels = predicted_labels(scores).reshape(-1)
    return np.bincount(labels, minlength=scores.shape[1]) / labels.size


def connected_region(labels: np.ndarray, position: tuple[int, ...]) -> np.ndarray:
    """The bool mask of positions 4-connected to ``position`` with the same label
    (face-connected in 3-D)."""
    same = labels == labels[position]
    components, _ = ndimage.label(same, structure=ndimage.generate_binary_structure(same.ndim, 1))
    return components == components[position]


def unknown_class_message(name: str, classes: Sequence[str]) -> str:
    """No class called ``name``: say so and offer the closest names, case ignored."""
    lowered = {c.lower(): c for c in classes}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
    containing = [c for c in classes if name.lower() in c.lower()][:3]
    offers = list(dict.fromkeys([lowered[c] for c in close] + containing))[:3]
    hint = f"; did you mean {', '.join(repr(o) for o in offers)}?" if offers else ""
    return f"no class called {name!r} in this model's {len(classes)} classes{hint}"
