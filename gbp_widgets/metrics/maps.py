"""Saliency from an attribution, and the pointing game (Zhang et al., 2016, as TorchRay
scores it): does the map's peak fall on the object?"""

from __future__ import annotations

import numpy as np
import torch

POINTING_TOLERANCE = 15
"""The pointing game's default tolerance, TorchRay's: pixels, in the map's own grid."""


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
) -> np.ndarray:
    """One ``bool`` per item: a hit when the map's peak lies within ``tolerance`` pixels
    (Euclidean) of a ``True`` pixel of the item's ground-truth mask.

    ``attribution``: ``(N, C, *spatial)``; ``masks``: ``(N, *spatial)`` bool, each with
    at least one ``True`` pixel (an item without its object cannot be scored, so leave
    it out). The peak is the first maximum of :func:`saliency` in flat (C) order.
    ``tolerance`` is in pixels of the map; TorchRay's 15 is for maps at the size of
    VOC or COCO pictures, so scale it to yours and say so.
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
    hits = np.empty(len(values), dtype=bool)
    for i, (item, mask) in enumerate(zip(values, truth, strict=True)):
        peak = np.array(np.unravel_index(np.argmax(item), item.shape))
        squared = ((np.argwhere(mask) - peak) ** 2).sum(axis=1).min()
        hits[i] = squared <= tolerance**2
    return hits


def saliency_values(attribution: torch.Tensor | np.ndarray) -> np.ndarray:
    """:func:`saliency` as a float64 array, refusing NaN (a map with NaN has no order)."""
    values = saliency(attribution)
    if isinstance(values, torch.Tensor):
        values = values.cpu().double().numpy()
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError("the attribution holds NaN, so its positions cannot be ranked")
    return values
