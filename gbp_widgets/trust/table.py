"""Which map to trust? One table over a localisation set: for each kind of map, how often
its peak falls on the object (the pointing game, scored as TorchRay scores it and as the
map's own peak), how faithful it is to the model (deletion and insertion AUC), each with a
95 % interval, beside TorchRay's published VOC07 figures."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import nn

from gbp_widgets.engine import GATES, GuidedBackprop, GuidedBackpropWarning, guided_gradcam
from gbp_widgets.metrics import (
    POINTING_SMOOTH,
    Z95,
    deletion,
    insertion,
    pointing_accuracy,
    pointing_game,
    wilson,
)
from gbp_widgets.trust.scenes import SIDE, Scenes

# TorchRay's 15 px are 3 to 4 % of a VOC picture's side (at most 500 px); on a 56 px
# scene the same share is 2 px.
TOLERANCE = 2

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
# TorchRay smooths the saliency of the maps backpropagated to the input (gradient,
# DeconvNet, guided) before taking their peak, and not Grad-CAM's. Guided Grad-CAM and the
# gated rule, which its benchmark lacks, are backpropagated maps too; the centre and random
# baselines are not maps of the model, and stay as they are.
SMOOTHED = frozenset({"gradient", "DeconvNet", "guided", GATED_ROW, "Guided Grad-CAM"})
# The resamples behind the interval of TorchRay's mean over classes.
RESAMPLES = 1000


def _percent(share: float, interval: tuple[float, float]) -> str:
    low, high = interval
    return f"{100 * share:5.1f} [{100 * low:4.1f}, {100 * high:5.1f}]"


@dataclass(frozen=True)
class MapScores:
    """One kind of map over the scored items, ``(N,)`` each: ``hits``, the pointing game on
    the map's own peak (within the tolerance or at it); ``torchray_hits``, as TorchRay
    scores it (backpropagated maps smoothed, strictly within); ``labels``, each item's
    class; ``deletion`` and ``insertion``, each item's AUC."""

    name: str
    hits: np.ndarray
    torchray_hits: np.ndarray
    labels: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray

    @property
    def pointing(self) -> float:
        """The share of items hit on the map's own peak, in [0, 1]."""
        return float(self.hits.mean())

    @property
    def pointing_interval(self) -> tuple[float, float]:
        return wilson(int(self.hits.sum()), len(self.hits))

    @property
    def torchray(self) -> float:
        """TorchRay's pointing accuracy: the mean over classes of each class's share of
        ``torchray_hits``, in [0, 1]."""
        return pointing_accuracy(self.torchray_hits, self.labels)

    @cached_property
    def torchray_interval(self) -> tuple[float, float]:
        """The 95 % interval of :attr:`torchray`: the middle 95 % of it over
        :data:`RESAMPLES` resamplings of the items within each class (seed 0)."""
        generator = np.random.default_rng(0)
        shares = [
            self.torchray_hits[items][
                generator.integers(0, len(items), (RESAMPLES, len(items)))
            ].mean(axis=1)
            for items in (np.flatnonzero(self.labels == c) for c in np.unique(self.labels))
        ]
        low, high = np.percentile(np.mean(shares, axis=0), [2.5, 97.5])
        return min(float(low), self.torchray), max(float(high), self.torchray)

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
        """The table as aligned text: the pointing game as TorchRay scores it and on the
        map's own peak, deletion and insertion, TorchRay's VOC07 VGG16 figure beside."""
        lines = [
            f"{len(self.scenes)} held-out scenes of {SIDE} x {SIDE} px; pointing tolerance "
            f"{self.tolerance} px; curves of {self.steps} steps; 95 % intervals in brackets",
            f"{'map':26}{'pointing as TorchRay %':>24}{'pointing, own peak %':>22}"
            f"{'deletion AUC':>22}{'insertion AUC':>22}{'TorchRay VOC07 %':>18}",
        ]
        for name, row in self.rows.items():
            cells = [
                _percent(row.torchray, row.torchray_interval),
                _percent(row.pointing, row.pointing_interval),
            ]
            for values in (row.deletion, row.insertion):
                low, high = row.mean_interval(values)
                cells.append(f"{values.mean():.3f} [{low:.3f}, {high:.3f}]")
            published = TORCHRAY_VOC07_VGG16.get(name)
            reference = "" if published is None else f"{published:.1f}"
            widths = (24, 22, 22, 22)
            lines.append(
                f"{name:26}"
                + "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
                + f"{reference:>18}"
            )
        lines.append(
            "as TorchRay: backpropagated maps smoothed (sigma 2 % of the side), a hit strictly "
            "within the tolerance, the mean of the classes' shares; own peak: the share of "
            "scenes"
        )
        if not self.gates:
            lines.append("no gated activation in this model, so no row for the gated rule")
        return "\n".join(lines)

    def order(self, column: str) -> list[str]:
        """Row names best first by ``column``: ``"torchray"`` (the pointing game as TorchRay
        scores it) or ``"pointing"`` (on the map's own peak), most hits first;
        ``"deletion"`` (lowest mean AUC) or ``"insertion"`` (highest mean AUC)."""
        if column not in BEST_FIRST:
            raise ValueError(f"unknown column {column!r}: use {', '.join(map(repr, BEST_FIRST))}")
        return sorted(self.rows, key=lambda name: BEST_FIRST[column](self.rows[name]))


# Each column's sort key, smallest for the best row: most hits, least AUC deleted, most AUC
# inserted.
BEST_FIRST = {
    "torchray": lambda row: -row.torchray,
    "pointing": lambda row: -row.pointing,
    "deletion": lambda row: row.deletion.mean(),
    "insertion": lambda row: -row.insertion.mean(),
}


def centre_map(images: torch.Tensor) -> torch.Tensor:
    """The centre baseline: a map that falls off with the distance from the picture's
    centre, whatever the picture shows; its one peak is pixel ``(side // 2, side // 2)``,
    TorchRay's centre point ``(w / 2, h / 2)``. Positive, as saliency takes ``|map|``."""
    side = images.shape[-1]
    grid = torch.arange(side, dtype=images.dtype) - side // 2
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
    :data:`TOLERANCE` px against each digit's box, as TorchRay scores it and on each map's
    own peak, and deletion (zeros) and insertion (blur) curves of ``steps`` steps for each
    scene's true class."""
    maps = trust_maps(model, scenes, seed)
    # The pointing game first: it refuses bad boxes before any curve is paid for.
    hits = {name: pointing_game(values, scenes.boxes, TOLERANCE) for name, values in maps.items()}
    as_torchray = {
        name: pointing_game(
            values,
            scenes.boxes,
            TOLERANCE,
            smooth=POINTING_SMOOTH if name in SMOOTHED else 0.0,
            strict=True,
        )
        for name, values in maps.items()
    }
    labels = scenes.labels.numpy()
    curve_args = {"steps": steps, "batch_size": batch_size}
    rows = {}
    for name, values in maps.items():
        areas = [
            [c.auc for c in score(model, scenes.images, values, scenes.labels, **curve_args)]
            for score in (deletion, insertion)
        ]
        rows[name] = MapScores(name, hits[name], as_torchray[name], labels, *map(np.array, areas))
    return TrustTable(rows, maps, scenes, TOLERANCE, steps, GATED_ROW in maps)
