"""The backward passes of one recorded item, reduced to what the panels need (:class:`Result`)
and kept a few deep, so a rule or target shown again needs no pass."""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from gbp_widgets.engine import BackwardRule, Explanation, Recording, Site
from gbp_widgets.explore.view import Target

_SERIALS = itertools.count()


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


class Makes(Protocol):
    """A rule as the passes use it (:class:`gbp_widgets.explore.rules.Rule`)."""

    name: str

    def make(self, passes: Passes, target: Target) -> Result: ...


@dataclass
class Timer:
    """How long the last backward pass that was not in a cache took, in seconds; shared by
    the items' passes, read by the pictures ahead."""

    seconds: float = 0.0


# Room for the view shown and the backward passes drawn ahead of it (the other rules for
# its target, the classes beside it for its rule): about 25 MB each for EfficientNet-Lite0.
_CACHED_RESULTS = 10


class Passes:
    """The backward passes over one ``recording``, by target and rule, the latest few kept.

    ``layer``: the module path Grad-CAM weights (``None``: the last feature map); ``timer``
    is told how long each new pass took.
    """

    def __init__(self, recording: Recording, layer: str | None, timer: Timer) -> None:
        self.recording, self.layer, self.timer = recording, layer, timer
        self._results: OrderedDict[tuple, Result] = OrderedDict()

    def result(self, target: Target, rule: Makes) -> Result:
        """The pass for ``target`` under ``rule``, from the cache if it is there."""
        key = (target, rule.name)
        if key in self._results:
            self._results.move_to_end(key)
            return self._results[key]
        started = time.perf_counter()
        result = rule.make(self, target)
        self.timer.seconds = time.perf_counter() - started
        self._results[key] = result
        self.keep(_CACHED_RESULTS)
        return result

    def has(self, target: Target, rule: Makes) -> bool:
        """Whether :meth:`result` for ``target`` under ``rule`` costs no pass."""
        return (target, rule.name) in self._results

    def keep(self, count: int) -> None:
        """Keep only the ``count`` latest passes."""
        while len(self._results) > count:
            self._results.popitem(last=False)

    def backprop(self, target: Target, rule: BackwardRule) -> Result:
        """A new backward pass of the engine under ``rule``, on the CPU."""
        backprop = self.recording.backprop(target, rule)
        return Result(
            explanation=self.recording.explanation(backprop, rule),
            attributions=tuple(g[0].detach().cpu().numpy() for g in backprop.input_grads),
            grads={i: g[0].detach().cpu() for i, g in backprop.site_grads.items()},
        )
