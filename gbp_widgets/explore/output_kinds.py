"""One class per kind of model output: class scores, one score, a dense map of class scores,
or torchvision detections. Each says what the output offers the Explorer (its target kinds,
its classes, how probable each is, what explaining a class means) and holds everything that
differs between kinds: the label map and regions of a dense output, a detector's boxes.

A kind is made for one item's recording (:func:`output_kind`) and keeps what it derives from
it. A new kind of output is one class (here, or in a module of its own as next-token scores
are), registered in :data:`OUTPUT_KINDS`; nothing else in the package asks which kind an
output is.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import torch
from scipy import ndimage

from gbp_widgets.engine import Region
from gbp_widgets.explore.next_tokens import MaskedTokens, NextTokens
from gbp_widgets.explore.output_base import (
    SCORE_THRESHOLD,
    Detection,
    OutputKind,
    State,
    Tokens,
)
from gbp_widgets.explore.view import Cut, DetectionScore, View, panel_position
from gbp_widgets.models import coco_classes
from gbp_widgets.pictures import drawing
from gbp_widgets.pictures.colour_keys import label_key
from gbp_widgets.pictures.figures import top_classes_title

__all__ = ["OUTPUT_KINDS", "Detection", "OutputKind", "Tokens", "output_kind"]


class ClassScores(OutputKind):
    words = "class scores (N, K)"

    @staticmethod
    def fits(raw, logits, tokens):
        return logits is not None and logits.dim() == 2

    def title(self, classes, threshold, chosen=None):
        return top_classes_title(self.probabilities(), classes)


class OneScore(OutputKind):
    words = "one score per item (N,)"

    @staticmethod
    def fits(raw, logits, tokens):
        return logits is not None and logits.dim() == 1

    def class_count(self) -> int:
        return 1

    def class_names(self, given):
        return ("score",) if given is None else super().class_names(given)

    def probabilities(self, region=None) -> np.ndarray:
        # The score itself: there is nothing to normalise it against.
        return self.logits.detach()[:1].double().cpu().numpy()

    def class_target(self, cls: int, region=None) -> object:
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
    def fits(raw, logits, tokens):
        return logits is not None and logits.dim() > 2

    @cached_property
    def labels(self) -> np.ndarray:
        """The class predicted at each position, ``(*positions)``."""
        return self.logits.detach()[0].argmax(0).cpu().numpy()

    def probabilities(self, region: Region | None = None) -> np.ndarray:
        """The fraction of positions (of ``region``'s, where one is chosen) where each
        class is predicted."""
        labels = self.labels if region is None else self.labels[np.asarray(region.mask)]
        labels = labels.reshape(-1)
        return np.bincount(labels, minlength=self.logits.shape[1]) / labels.size

    def class_target(self, cls: int, region: Region | None = None) -> Region:
        """Every position of the class, or the region chosen (whose class ``cls`` is)."""
        return self.region(cls) if region is None else region

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
        region = self.region_at(row, column, size, view.cut)
        return {"region": region, "target": region.cls, "target_kind": "region"}

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
    def fits(raw, logits, tokens):
        return (
            isinstance(raw, (list, tuple))
            and len(raw) > 0
            and isinstance(raw[0], dict)
            and {"boxes", "scores", "labels"} <= set(raw[0])
        )

    def class_names(self, given):
        return tuple(given) if given is not None else coco_classes()

    def top(self, k, threshold, class_name, region=None):
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
    # First: scores over a vocabulary per token are a dense map too, by their shape alone.
    "masked tokens": MaskedTokens,
    "next tokens": NextTokens,
    "classes": ClassScores,
    "score": OneScore,
    "dense": DenseMap,
    "detection": Detections,
}
"""Every kind of output, by name, each tried against a model's output."""


def output_kind(
    raw: object, chosen: torch.Tensor | None, tokens: Tokens | None = None
) -> OutputKind:
    """The kind of ``raw`` (the scores ``chosen`` from it, when a tensor; ``tokens``, the
    token ids it was made from, if any): the first in :data:`OUTPUT_KINDS` that fits; a
    ``ValueError`` saying what the Explorer shows otherwise."""
    for kind in OUTPUT_KINDS.values():
        if kind.fits(raw, chosen, tokens):
            return kind(raw, chosen, tokens)
    shown = "; ".join(k.words for k in OUTPUT_KINDS.values() if k is not OneScore)
    raise ValueError(
        f"the Explorer shows models whose output is {shown}. Choose the scores with output= "
        "(a key, an index or a function returning a tensor)"
    )


def connected_region(labels: np.ndarray, position: tuple[int, ...]) -> np.ndarray:
    """The bool mask of positions 4-connected to ``position`` with the same label
    (face-connected in 3-D)."""
    same = labels == labels[position]
    components, _ = ndimage.label(same, structure=ndimage.generate_binary_structure(same.ndim, 1))
    return components == components[position]
