"""Similarity of two attribution maps, as in Adebayo et al. (2018). NumPy, SciPy, scikit-image.

Every metric starts from the same normalised maps: the attribution summed over
channels to ``(H, W)`` and divided by its largest magnitude.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from skimage.feature import hog
from skimage.metrics import structural_similarity

METRICS: tuple[str, ...] = ("spearman_abs", "spearman", "ssim", "hog")


def normalised_map(attribution: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` or ``(H, W)`` attribution -> signed ``(H, W)`` map in [-1, 1]."""
    values = np.asarray(attribution, dtype=np.float64)
    if values.ndim == 3:
        values = values.sum(axis=0)
    peak = np.abs(values).max()
    return values / peak if peak > 0 else values


def similarities(first: np.ndarray, second: np.ndarray) -> dict[str, float]:
    """All :data:`METRICS` between two normalised ``(H, W)`` maps; 1.0 means identical.

    A correlation with a constant map (an all-zero map, say) is undefined, not 0: it
    is NaN unless both maps are the same, which counts as 1.0.
    """
    return {
        "spearman_abs": _rank_correlation(np.abs(first), np.abs(second)),
        "spearman": _rank_correlation(first, second),
        "ssim": float(structural_similarity(np.abs(first), np.abs(second), data_range=1.0)),
        "hog": _correlation(_hog(np.abs(first)), _hog(np.abs(second))),
    }


def _rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    if _constant(first) or _constant(second):
        return 1.0 if np.array_equal(first, second) else float("nan")
    return float(spearmanr(first.ravel(), second.ravel()).statistic)


def _correlation(first: np.ndarray, second: np.ndarray) -> float:
    if _constant(first) or _constant(second):
        return 1.0 if np.array_equal(first, second) else float("nan")
    return float(np.corrcoef(first, second)[0, 1])


def _constant(values: np.ndarray) -> bool:
    return values.size == 0 or np.all(values == values.flat[0])


def _hog(values: np.ndarray) -> np.ndarray:
    cell = max(2, min(values.shape) // 16)
    return hog(values, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2))
