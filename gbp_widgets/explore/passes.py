"""One backward pass as the panels need it (:class:`Result`), and what selects a picture
(:class:`View`)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import torch

from gbp_widgets.engine import Explanation, Neuron, Region, Site
from gbp_widgets.explore.names import ALL_CHANNELS, PERCENTILE, SCORE_THRESHOLD
from gbp_widgets.explore.outputs import DetectionScore
from gbp_widgets.explore.views import Cut

_SERIALS = itertools.count()

Target = int | Neuron | Region | DetectionScore | None


@dataclass(frozen=True)
class Result:
    """One backward pass, reduced to what the panels need (all on the CPU).

    ``explanation`` is the engine's, for a batch of one (for Guided Grad-CAM,
    the guided pass it is made from); ``attributions`` has one array per input,
    without the batch dimension; ``grads`` maps site index to the gradient that
    arrived at its output, without the batch dimension; ``cam`` is the ``(H, W)``
    Grad-CAM map for Guided Grad-CAM. ``serial`` is unique, a safe cache key.
    """

    explanation: Explanation
    attributions: tuple[np.ndarray, ...]
    grads: dict[int, torch.Tensor]
    cam: np.ndarray | None = None
    layer: str | None = None
    serial: int = field(default_factory=lambda: next(_SERIALS))

    @property
    def sites(self) -> tuple[Site, ...]:
        return self.explanation.sites

    @property
    def attribution(self) -> np.ndarray:
        """The first input's attribution."""
        return self.attributions[0]


@dataclass(frozen=True)
class View:
    """Everything that selects a picture."""

    target: Target
    rule: str = "guided"
    display: str = "gradient"
    percentile: float = PERCENTILE
    site: int = 0
    channel: int = ALL_CHANNELS
    cut: Cut = Cut()
    input_index: int = 0
    # Detections scoring less are neither listed nor boxed.
    score_threshold: float = SCORE_THRESHOLD
    # What the output panel or the boxes single out: the Region of a dense output, or
    # the index of a detection.
    chosen: object = None
