"""The faithfulness metrics written again from their definitions, one item and one step at a
time, with NumPy: what tests/test_metrics.py holds gbp_widgets.metrics to."""

import math
from fractions import Fraction

import numpy as np
import torch
import torchvision.transforms.functional as TF


def reference_curve(model, item, attribution, target, steps, baseline, delete):
    """``(scores, auc)`` for one ``(C, *spatial)`` item: at step ``k``, the ``ceil(k P /
    steps)`` positions of highest max-over-channels ``|attribution|`` (ties: lower flat
    index first) taken from the baseline (``delete``) or from the item (else)."""
    item, baseline = np.asarray(item, np.float64), np.asarray(baseline, np.float64)
    strength = np.abs(np.asarray(attribution, np.float64)).max(axis=0).ravel()
    positions = strength.size
    order = sorted(range(positions), key=lambda p: (-strength[p], p))
    flat_item = item.reshape(item.shape[0], positions)
    flat_base = baseline.reshape(item.shape[0], positions)
    scores = []
    for k in range(steps + 1):
        chosen = order[: math.ceil(Fraction(k * positions, steps))]
        copy = (flat_item if delete else flat_base).copy()
        copy[:, chosen] = (flat_base if delete else flat_item)[:, chosen]
        batch = torch.from_numpy(copy.reshape(item.shape)).unsqueeze(0)
        with torch.no_grad():
            logits = model(batch.to(next(model.parameters()).dtype)).double()
        scores.append(float(torch.softmax(logits, dim=1)[0, target]))
    fractions = [k / steps for k in range(steps + 1)]
    area = sum(
        (scores[k] + scores[k + 1]) / 2 * (fractions[k + 1] - fractions[k]) for k in range(steps)
    )
    return np.array(scores), area


def reference_blur(inputs):
    """torchvision's gaussian_blur (kernel 11, sigma 5) for pictures; for other ranks, the
    same normalised kernel along each spatial axis with NumPy, reflected at the edges."""
    if inputs.dim() == 4:
        return TF.gaussian_blur(inputs, [11, 11], [5.0, 5.0])
    grid = np.arange(-5, 6, dtype=np.float64)
    kernel = np.exp(-(grid**2) / 50.0)
    kernel /= kernel.sum()
    values = inputs.double().numpy()
    for axis in range(2, values.ndim):
        padded = np.pad(
            values, [(5, 5) if a == axis else (0, 0) for a in range(values.ndim)], "reflect"
        )
        values = np.apply_along_axis(lambda line: np.convolve(line, kernel, "valid"), axis, padded)
    return torch.from_numpy(values).to(inputs.dtype)


def reference_pointing(attribution, mask, tolerance):
    """One item: the first flat maximum of max-over-channels ``|attribution|``, and whether a
    True pixel of ``mask`` lies within ``tolerance`` of it, by looking at every pixel."""
    strength = np.abs(np.asarray(attribution, np.float64)).max(axis=0)
    best, peak = -np.inf, None
    for index in np.ndindex(strength.shape):
        if strength[index] > best:
            best, peak = strength[index], index
    return any(
        math.dist(peak, index) <= tolerance for index in np.ndindex(mask.shape) if mask[index]
    )


def reference_torchray_pointing(attribution, mask, tolerance, smooth):
    """One item as TorchRay's benchmark scores it, written from its description: the
    channel maximum of ``|attribution|``, smoothed by a Gaussian of sigma ``smooth`` x the
    larger side (taps exp(-i^2 / 2 sigma^2) for |i| <= ceil(4 sigma), normalised, edges
    repeated, rows then columns), the first flat maximum as the point, and a hit when a
    True pixel of ``mask`` lies strictly within ``tolerance`` of it."""
    strength = np.abs(np.asarray(attribution, np.float64)).max(axis=0)
    sigma = smooth * max(strength.shape)
    width = math.ceil(4 * sigma)
    taps = [math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(-width, width + 1)]
    taps = [t / sum(taps) for t in taps]
    height, breadth = strength.shape

    def at(y, x):
        return strength[min(max(y, 0), height - 1), min(max(x, 0), breadth - 1)]

    down = np.array(
        [
            [
                sum(t * at(y + i - width, x) for i, t in enumerate(taps))
                for x in range(-width, breadth + width)
            ]
            for y in range(height)
        ]
    )
    across = np.array(
        [
            [sum(t * down[y, x + i] for i, t in enumerate(taps)) for x in range(breadth)]
            for y in range(height)
        ]
    )
    flat = int(np.argmax(across))
    v, u = divmod(flat, breadth)
    return any(
        (y - v) ** 2 + (x - u) ** 2 < tolerance**2 for y, x in np.ndindex(mask.shape) if mask[y, x]
    )


def reference_pointing_accuracy(hits, labels):
    """TorchRay's accuracy: hits / (hits + misses) per class, averaged over the classes."""
    shares = []
    for cls in sorted(set(labels)):
        mine = [hit for hit, label in zip(hits, labels, strict=True) if label == cls]
        shares.append(sum(mine) / len(mine))
    return sum(shares) / len(shares)
