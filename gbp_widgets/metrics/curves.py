"""Deletion and insertion curves (Petsiuk et al., 2018, RISE): how fast the target class's
probability falls as the most salient positions are removed, and how fast it rises as they
are put back over a baseline. The cost is forward passes only, one perturbed copy per step,
made a batch at a time so memory does not grow with the number of items or steps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gbp_widgets.engine import (
    OutputError,
    choose_output,
    evaluation_mode,
    model_device_and_dtype,
    model_lock,
)
from gbp_widgets.metrics.maps import along_each_axis, saliency_values

# RISE's code blurs with torchvision's gaussian_blur at kernel 11, sigma 5.
BLUR_KERNEL, BLUR_SIGMA = 11, 5.0


@dataclass(frozen=True)
class Curve:
    """One item's curve: ``fractions`` ``(steps + 1,)`` are ``k / steps``, the share of
    positions removed (deletion) or put back (insertion); ``scores`` ``(steps + 1,)`` the
    softmax probability of the target class there; ``auc`` the area under it by the
    trapezoid rule, in [0, 1]. Low is good for deletion, high for insertion."""

    fractions: np.ndarray
    scores: np.ndarray
    auc: float


def blurred(inputs: torch.Tensor) -> torch.Tensor:
    """``(N, C, *spatial)`` -> the same, each spatial axis blurred by a Gaussian (kernel
    :data:`BLUR_KERNEL`, sigma :data:`BLUR_SIGMA`, reflected at the edges): for pictures,
    torchvision's ``gaussian_blur(inputs, 11, 5)``; for signals and volumes, the same
    kernel along each axis."""
    half = BLUR_KERNEL // 2
    short = [side for side in inputs.shape[2:] if side <= half]
    if short:
        raise ValueError(
            f"the blurred baseline reflects {half} positions at each edge, so every spatial "
            f"side must be longer than {half}; these inputs have {tuple(inputs.shape[2:])}. "
            "Give baseline='zeros' or a tensor"
        )
    grid = torch.linspace(-half, half, BLUR_KERNEL, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (grid / BLUR_SIGMA) ** 2)
    return along_each_axis(inputs, kernel / kernel.sum(), 2, "reflect")


BASELINES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "zeros": torch.zeros_like,
    "blur": blurred,
}
"""The baselines ``deletion`` and ``insertion`` take by name: each makes, from inputs
``(N, C, *spatial)``, a baseline of the same shape (zeros, or RISE's blur)."""


def deletion(
    model: nn.Module,
    inputs: torch.Tensor,
    attribution: torch.Tensor | np.ndarray,
    target: int | Sequence[int] | torch.Tensor | None = None,
    *,
    steps: int = 100,
    baseline: str | torch.Tensor = "zeros",
    batch_size: int = 32,
    output: object = None,
) -> list[Curve]:
    """One :class:`Curve` per item: the target's probability as the most salient
    positions are replaced by the baseline, ``ceil(k * P / steps)`` of the ``P`` positions
    at step ``k = 0 .. steps``.

    ``inputs``: ``(N, C, *spatial)``, model-ready (pictures, signals, volumes);
    ``attribution``: the same shape. Positions are ranked by :func:`saliency`, highest
    first, ties in flat order; all channels of a position go together. ``target``: a
    class index, one per item, or ``None`` for each item's predicted class.
    ``baseline``: ``"zeros"``, ``"blur"`` (:func:`blurred`) or a tensor shaped like
    ``inputs``. ``batch_size`` perturbed copies go through the model at a time, with
    ``output`` choosing the class scores ``(N, K)`` as in :meth:`GuidedBackprop.explain`.
    The model runs in eval mode without autograd, and is left as it was.
    """
    return _curves(model, inputs, attribution, target, steps, baseline, batch_size, output, True)


def insertion(
    model: nn.Module,
    inputs: torch.Tensor,
    attribution: torch.Tensor | np.ndarray,
    target: int | Sequence[int] | torch.Tensor | None = None,
    *,
    steps: int = 100,
    baseline: str | torch.Tensor = "blur",
    batch_size: int = 32,
    output: object = None,
) -> list[Curve]:
    """As :func:`deletion`, the other way: step ``k`` is the baseline with the
    ``ceil(k * P / steps)`` most salient positions taken from the input."""
    return _curves(model, inputs, attribution, target, steps, baseline, batch_size, output, False)


CURVES = {"deletion": deletion, "insertion": insertion}
"""The curves by name, as ``explain_dataset(metrics=...)`` and the command line's
``--metrics`` take them."""


def _curves(model, inputs, attribution, target, steps, baseline, batch_size, output, delete):
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a tensor (N, C, *spatial), not {type(inputs).__name__}")
    if tuple(attribution.shape) != tuple(inputs.shape):
        raise ValueError(
            f"the attribution's shape {tuple(attribution.shape)} differs from the inputs' "
            f"{tuple(inputs.shape)}: give the map of these inputs, one value per input value"
        )
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    device, dtype = model_device_and_dtype(model)
    values = inputs.detach().to(device, dtype)
    ranks = _ranks(saliency_values(attribution), device)
    start = _baseline(baseline, values)
    removed, kept = (start, values) if delete else (values, start)
    positions = ranks[0].numel()
    counts = torch.tensor([-(-k * positions // steps) for k in range(steps + 1)], device=device)
    pairs = [(i, k) for i in range(len(values)) for k in range(steps + 1)]
    with torch.no_grad(), model_lock(model), evaluation_mode(model.modules()):
        targets = _targets(target, model, values, batch_size, output)
        scores = []
        for first in range(0, len(pairs), batch_size):
            items, ks = torch.tensor(pairs[first : first + batch_size], device=device).T
            swap = ranks[items] < counts[ks].view(-1, *[1] * (values.dim() - 1))
            batch = torch.where(swap, removed[items], kept[items])
            probabilities = _probabilities(model(batch), output, targets)
            scores.append(probabilities[torch.arange(len(items)), targets[items]])
    table = torch.cat(scores).double().cpu().numpy().reshape(len(values), steps + 1)
    fractions = np.arange(steps + 1) / steps
    return [Curve(fractions, row, _trapezoid(row, fractions)) for row in table]


def _ranks(values: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(N, 1, *spatial)``: each position's place when ranked by saliency, highest first,
    ties by flat index."""
    flat = torch.from_numpy(values.reshape(len(values), -1))
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    places = torch.arange(flat.shape[1]).expand_as(order)
    ranks.scatter_(1, order, places)
    return ranks.view(len(values), 1, *values.shape[1:]).to(device)


def _baseline(baseline: str | torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    if isinstance(baseline, torch.Tensor):
        if baseline.shape != values.shape:
            raise ValueError(
                f"a baseline tensor must have the inputs' shape {tuple(values.shape)}, "
                f"not {tuple(baseline.shape)}"
            )
        return baseline.detach().to(values.device, values.dtype)
    if baseline not in BASELINES:
        raise ValueError(
            f"unknown baseline {baseline!r}: use {', '.join(map(repr, BASELINES))} or a tensor "
            "shaped like the inputs"
        )
    return BASELINES[baseline](values)


def _targets(target, model, values, batch_size, output) -> torch.Tensor:
    """``(N,)`` class indices: as given, or each item's prediction for ``None``."""
    if target is None:
        scores = [
            _class_scores(model(values[i : i + batch_size]), output)
            for i in range(0, len(values), batch_size)
        ]
        return torch.cat(scores).argmax(dim=1)
    if isinstance(target, bool):
        raise TypeError("target must be a class index, not a bool")
    given = target.cpu() if isinstance(target, torch.Tensor) else target
    resolved = torch.as_tensor(np.asarray(given))
    if resolved.is_floating_point() or resolved.dtype == torch.bool:
        raise TypeError(f"target must hold class indices (integers), not {resolved.dtype}")
    if resolved.dim() == 0:
        resolved = resolved.expand(len(values))
    if resolved.shape != (len(values),):
        raise ValueError(
            f"target has shape {tuple(resolved.shape)} for {len(values)} inputs: give one "
            "class index, or one per item"
        )
    return resolved.long().to(values.device)


def _class_scores(raw: object, output) -> torch.Tensor:
    scores = choose_output(raw, output, graph=False)
    if scores.dim() != 2:
        raise OutputError(
            f"deletion and insertion score class probabilities, so they need class scores "
            f"(N, K) from the model; the output has shape {tuple(scores.shape)}. Choose "
            "them with output=, e.g. a callable that pools a dense output"
        )
    return scores


def _probabilities(raw: object, output, targets: torch.Tensor) -> torch.Tensor:
    scores = _class_scores(raw, output)
    bad = targets[(targets < 0) | (targets >= scores.shape[1])]
    if len(bad):
        raise ValueError(
            f"target class {int(bad[0])} is out of range: the model has {scores.shape[1]} "
            f"classes, so use 0 .. {scores.shape[1] - 1}"
        )
    return torch.softmax(scores.double(), dim=1)


def _trapezoid(scores: np.ndarray, fractions: np.ndarray) -> float:
    return float(np.sum((scores[1:] + scores[:-1]) / 2 * np.diff(fractions)))
