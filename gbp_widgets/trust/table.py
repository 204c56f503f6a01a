"""Which map to trust? One table over a localisation set: for each kind of map, how often
its peak falls on the object (the pointing game) and how faithful it is to the model
(deletion and insertion AUC), each with a 95 % interval, beside TorchRay's published
VOC07 figures."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gbp_widgets.engine import GATES, GuidedBackprop, GuidedBackpropWarning, guided_gradcam
from gbp_widgets.metrics import deletion, insertion, pointing_game
from gbp_widgets.trust.scenes import SIDE, Scenes

# TorchRay's 15 px are 3 to 4 % of a VOC picture's side (at most 500 px); on a 56 px
# scene the same share is 2 px.
TOLERANCE = 2
# Normal quantile of a two-sided 95 % interval.
Z95 = 1.959964

# TorchRay's pointing game on VOC 2007 test, all images, VGG16 (percent hits), keyed by
# this table's row names: the published reference beside ours.
TORCHRAY_VOC07_VGG16 = {
    "Grad-CAM": 86.6,
    "gradient": 76.3,
    "guided": 75.9,
    "centre": 69.6,
    "DeconvNet": 67.5,
}
GATED_ROW = "guided with gates (ours)"


def wilson(hits: int, count: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of a share ``hits / count``: unlike the normal
    approximation it stays inside [0, 1] and is honest near 0 and 1."""
    share, spread = hits / count, Z95**2 / count
    centre = (share + spread / 2) / (1 + spread)
    half = Z95 / (1 + spread) * np.sqrt(share * (1 - share) / count + spread / (4 * count))
    # The interval holds the share and lies in [0, 1]; rounding can miss both by a hair.
    low, high = max(0.0, float(centre - half)), min(1.0, float(centre + half))
    return min(low, share), max(high, share)


@dataclass(frozen=True)
class MapScores:
    """One kind of map over the scored items: ``hits`` ``(N,)`` bool (the pointing
    game); ``deletion`` and ``insertion`` ``(N,)`` each item's AUC."""

    name: str
    hits: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray

    @property
    def pointing(self) -> float:
        """The share of hits, in [0, 1]."""
        return float(self.hits.mean())

    @property
    def pointing_interval(self) -> tuple[float, float]:
        return wilson(int(self.hits.sum()), len(self.hits))

    @staticmethod
    def mean_interval(values: np.ndarray) -> tuple[float, float]:
        """The 95 % interval of a mean (normal approximation, sample standard deviation)."""
        half = Z95 * values.std(ddof=1) / np.sqrt(len(values))
        return float(values.mean() - half), float(values.mean() + half)


@dataclass(frozen=True)
class TrustTable:
    """The table: ``rows`` by name in the order drawn; ``maps`` ``(N, 1, SIDE, SIDE)``
    per row name; the ``scenes`` scored; ``tolerance`` in pixels; ``steps`` of the
    curves; ``gates``: whether the model has gated activations (then a row for the
    gated rule is there)."""

    rows: dict[str, MapScores]
    maps: dict[str, torch.Tensor]
    scenes: Scenes
    tolerance: float
    steps: int
    gates: bool

    def text(self) -> str:
        """The table as aligned text, TorchRay's VOC07 VGG16 pointing figure beside ours."""
        lines = [
            f"{len(self.scenes)} held-out scenes of {SIDE} x {SIDE} px; pointing tolerance "
            f"{self.tolerance} px; curves of {self.steps} steps; 95 % intervals in brackets",
            f"{'map':26}{'pointing game %':>22}{'deletion AUC':>22}{'insertion AUC':>22}"
            f"{'TorchRay VOC07 %':>18}",
        ]
        for name, row in self.rows.items():
            low, high = row.pointing_interval
            cells = [f"{100 * row.pointing:5.1f} [{100 * low:4.1f}, {100 * high:5.1f}]"]
            for values in (row.deletion, row.insertion):
                low, high = row.mean_interval(values)
                cells.append(f"{values.mean():.3f} [{low:.3f}, {high:.3f}]")
            published = TORCHRAY_VOC07_VGG16.get(name)
            reference = "" if published is None else f"{published:.1f}"
            lines.append(f"{name:26}" + "".join(f"{c:>22}" for c in cells) + f"{reference:>18}")
        if not self.gates:
            lines.append("no gated activation in this model, so no row for the gated rule")
        return "\n".join(lines)

    def order(self, column: str) -> list[str]:
        """Row names best first by ``column``: ``"pointing"`` (most hits), ``"deletion"``
        (lowest mean AUC) or ``"insertion"`` (highest mean AUC)."""
        if column not in BEST_FIRST:
            raise ValueError(f"unknown column {column!r}: use {', '.join(map(repr, BEST_FIRST))}")
        return sorted(self.rows, key=lambda name: BEST_FIRST[column](self.rows[name]))


# Each column's sort key, smallest for the best row: most hits, least AUC deleted, most AUC
# inserted.
BEST_FIRST = {
    "pointing": lambda row: -row.pointing,
    "deletion": lambda row: row.deletion.mean(),
    "insertion": lambda row: -row.insertion.mean(),
}


def centre_map(images: torch.Tensor) -> torch.Tensor:
    """The centre baseline: a map that falls off with the distance from the picture's
    centre, whatever the picture shows; for an even side its peak (the first of four) is
    the pixel just up and left of the centre. Positive, as saliency takes ``|map|``."""
    side = images.shape[-1]
    grid = torch.arange(side, dtype=images.dtype) - (side - 1) / 2
    distance = grid.view(-1, 1) ** 2 + grid.view(1, -1) ** 2
    return (distance.max() - distance).expand_as(images).clone()


def random_map(images: torch.Tensor, seed: int) -> torch.Tensor:
    """A map of independent uniform noise, the floor any map should clear."""
    return torch.rand(images.shape, generator=torch.Generator().manual_seed(seed))


def trust_maps(model: nn.Module, scenes: Scenes, seed: int = 0) -> dict[str, torch.Tensor]:
    """Every row's ``(N, 1, SIDE, SIDE)`` map of each scene's true class, in table order;
    the gated rule only when the model has gated activations."""
    images, labels = scenes.images, scenes.labels
    gated = GuidedBackprop(model, activations="gated")
    # One scene says whether the model has gates; all of them are explained only if so.
    gates = any(site.kind in GATES for site in gated.explain(images[:1], labels[:1]).sites)
    with warnings.catch_warnings():
        if gates:
            # The published rules pass gated calls as plain gradients and warn so; here the
            # gated row beside them is the answer to that warning.
            warnings.simplefilter("ignore", GuidedBackpropWarning)
        engine = GuidedBackprop(model)
        maps = {
            name: engine.explain(images, labels, rule=rule, capture_masks=False).attribution
            for name, rule in (("gradient", "gradient"), ("DeconvNet", "deconvnet"))
        }
        cam = guided_gradcam(model, images, labels)
    # Guided Grad-CAM's guided half is the published guided map: not computed twice.
    maps["guided"] = cam.guided.attribution
    if gates:
        maps[GATED_ROW] = gated.explain(images, labels, capture_masks=False).attribution
    maps["Grad-CAM"], maps["Guided Grad-CAM"] = cam.cam, cam.product
    maps["centre"], maps["random"] = centre_map(images), random_map(images, seed)
    return {name: values.detach() for name, values in maps.items()}


def trust_table(
    model: nn.Module, scenes: Scenes, steps: int = 50, batch_size: int = 256, seed: int = 0
) -> TrustTable:
    """Score every map of :func:`trust_maps` on ``scenes``: the pointing game at
    :data:`TOLERANCE` px against each digit's box, and deletion (zeros) and insertion
    (blur) curves of ``steps`` steps for each scene's true class."""
    maps = trust_maps(model, scenes, seed)
    # The pointing game first: it refuses bad boxes before any curve is paid for.
    hits = {name: pointing_game(values, scenes.boxes, TOLERANCE) for name, values in maps.items()}
    curve_args = {"steps": steps, "batch_size": batch_size}
    rows = {}
    for name, values in maps.items():
        areas = [
            [c.auc for c in score(model, scenes.images, values, scenes.labels, **curve_args)]
            for score in (deletion, insertion)
        ]
        rows[name] = MapScores(name, hits[name], *map(np.array, areas))
    return TrustTable(rows, maps, scenes, TOLERANCE, steps, GATED_ROW in maps)
