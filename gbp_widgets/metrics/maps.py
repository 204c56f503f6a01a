"""Saliency from an attribution, and the pointing game (Zhang et al., 2016): does the map's
peak fall on the object? Plain by default; with ``smooth=POINTING_SMOOTH, strict=True`` and
:func:`pointing_accuracy`, as TorchRay's benchmark scores it."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

POINTING_TOLERANCE = 15
"""The pointing game's default tolerance, TorchRay's: pixels, in the map's own grid."""
POINTING_SMOOTH = 0.02
"""TorchRay's smoothing of backprop saliency (gradient, DeconvNet, guided) before its peak is
taken: a Gaussian of standard deviation 0.02 times the map's larger side (none for Grad-CAM)."""
# TorchRay's imsmooth divides by sqrt(2) sigma plus float32's epsilon, in float32.
_EPSILON = torch.finfo(torch.float32).eps


def saliency(attribution: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """``(N, C, *spatial)`` attribution -> ``(N, *spatial)``: the largest ``|value|`` over
    the channel axis (axis 1), as a tensor for a tensor and an array for an array.

    One score per position, so a position counts as salient when any of its channels
    is, whatever the sign."""
    if attribution.ndim < 3:
        raise ValueError(
            f"an attribution of shape {tuple(attribution.shape)} has no positions: give "
            "(N, C, *spatial), e.g. (N, 3, H, W) for pictures or (N, C, L) for signals; "
            "a table (N, F) becomes (N, 1, F)"
        )
    if isinstance(attribution, torch.Tensor):
        return attribution.detach().abs().amax(dim=1)
    return np.abs(np.asarray(attribution)).max(axis=1)


def pointing_game(
    attribution: torch.Tensor | np.ndarray,
    masks: torch.Tensor | np.ndarray,
    tolerance: float = POINTING_TOLERANCE,
    *,
    smooth: float = 0.0,
    strict: bool = False,
) -> np.ndarray:
    """One ``bool`` per item: a hit when the map's peak lies within ``tolerance`` pixels
    (Euclidean) of a ``True`` pixel of the item's ground-truth mask.

    ``attribution``: ``(N, C, *spatial)``; ``masks``: ``(N, *spatial)`` bool, each with
    at least one ``True`` pixel (an item without its object cannot be scored, so leave
    it out). The peak is the first maximum of :func:`saliency` in flat (C) order.
    ``tolerance`` is in pixels of the map; TorchRay's 15 is for maps at the size of
    VOC or COCO pictures, so scale it to yours and say so.

    TorchRay's benchmark differs in two ways, each an option here. ``smooth``: before the
    peak, the saliency of a ``(N, C, H, W)`` map is smoothed by a Gaussian of standard
    deviation ``smooth`` times ``max(H, W)``, its taps ``exp(-i^2 / 2 sigma^2)`` for
    ``|i| <= ceil(4 sigma)``, summing to 1, the edges repeated, in float32, as TorchRay's
    ``imsmooth`` does (:data:`POINTING_SMOOTH` for backprop maps; 0, none, by default).
    ``strict``: a hit only strictly within ``tolerance`` (TorchRay's ``<``); by default
    a peak at exactly ``tolerance`` pixels hits too. TorchRay then reports the mean of
    the classes' shares of hits, :func:`pointing_accuracy`, not the share of all items.
    """
    values = saliency_values(attribution)
    truth = np.asarray(masks.cpu() if isinstance(masks, torch.Tensor) else masks)
    if truth.shape != values.shape:
        raise ValueError(
            f"masks of shape {truth.shape} do not match the attribution's positions "
            f"{values.shape}: give one (N, *spatial) bool mask per item"
        )
    if truth.dtype != bool:
        raise TypeError(f"masks must be bool (True on the object), not {truth.dtype}")
    if not (np.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a distance in pixels, >= 0; got {tolerance!r}")
    empty = [i for i in range(len(truth)) if not truth[i].any()]
    if empty:
        raise ValueError(
            f"items {empty[:10]} have no True pixel in their mask, so no peak can hit "
            "them; leave those items out"
        )
    if smooth:
        values = smoothed(values, smooth)
    hits = np.empty(len(values), dtype=bool)
    for i, (item, mask) in enumerate(zip(values, truth, strict=True)):
        peak = np.array(np.unravel_index(np.argmax(item), item.shape))
        squared = ((np.argwhere(mask) - peak) ** 2).sum(axis=1).min()
        hits[i] = squared < tolerance**2 if strict else squared <= tolerance**2
    return hits


def smoothed(values: np.ndarray, fraction: float) -> np.ndarray:
    """``(N, H, W)`` saliency smoothed as TorchRay's ``imsmooth`` smooths it before the
    pointing game: see :func:`pointing_game`'s ``smooth``; float32."""
    if not (np.isfinite(fraction) and fraction > 0):
        raise ValueError(f"smooth must be a share of the map's side, > 0; got {fraction!r}")
    if values.ndim != 3:
        raise ValueError(
            f"smoothing is for pictures' maps, (N, C, H, W); this one has positions "
            f"{values.shape[1:]}: leave smooth at 0"
        )
    sigma = fraction * max(values.shape[1:])
    width = math.ceil(4 * sigma)
    taps = torch.arange(-width, width + 1, dtype=torch.float32)
    taps = taps / (torch.tensor(math.sqrt(2.0), dtype=torch.float32) * sigma + _EPSILON)
    kernel = torch.exp(-taps * taps)
    kernel = kernel / kernel.sum()
    return along_each_axis(torch.from_numpy(values).float(), kernel, 1, "replicate").numpy()


def along_each_axis(
    values: torch.Tensor, kernel: torch.Tensor, first: int, mode: str
) -> torch.Tensor:
    """``values`` with the odd-length 1-D ``kernel`` applied along each axis from ``first``
    on (a separable filter), the edges padded by ``mode`` (``"reflect"``, ``"replicate"``);
    the same shape, in ``values``' dtype."""
    half = len(kernel) // 2
    weights = kernel.to(values.device, values.dtype).view(1, 1, -1)
    for axis in range(first, values.dim()):
        moved = values.movedim(axis, -1)
        flat = moved.reshape(-1, 1, moved.shape[-1])
        filtered = F.conv1d(F.pad(flat, (half, half), mode=mode), weights)
        values = filtered.reshape(moved.shape).movedim(-1, axis)
    return values


def pointing_accuracy(hits: np.ndarray, labels: torch.Tensor | np.ndarray) -> float:
    """TorchRay's pointing accuracy: each class's share of hits among its items
    (``labels``, one class per item, as ``hits``), averaged over the classes there are,
    so a rare class counts as much as a common one. In ``[0, 1]``."""
    classes = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    hits = np.asarray(hits, dtype=bool)
    if classes.shape != hits.shape:
        raise ValueError(f"{classes.shape} labels for {hits.shape} hits: give one class per item")
    if not len(hits):
        raise ValueError("no items: there is no accuracy to take")
    return float(np.mean([hits[classes == c].mean() for c in np.unique(classes)]))


def saliency_values(attribution: torch.Tensor | np.ndarray) -> np.ndarray:
    """:func:`saliency` as a float64 array, refusing NaN (a map with NaN has no order)."""
    values = saliency(attribution)
    if isinstance(values, torch.Tensor):
        values = values.cpu().double().numpy()
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError("the attribution holds NaN, so its positions cannot be ranked")
    return values
