"""Confidence intervals for shares of hits (the pointing games, on pictures and on text)."""

from __future__ import annotations

import numpy as np

Z95 = 1.959964
"""The standard normal quantile of a two-sided 95 % interval."""


def wilson(hits: int, count: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of a share ``hits / count``: unlike the normal
    approximation it stays inside [0, 1] and is honest near 0 and 1."""
    share, spread = hits / count, Z95**2 / count
    centre = (share + spread / 2) / (1 + spread)
    half = Z95 / (1 + spread) * np.sqrt(share * (1 - share) / count + spread / (4 * count))
    # The interval holds the share and lies in [0, 1]; rounding can miss both by a hair.
    low, high = max(0.0, float(centre - half)), min(1.0, float(centre + half))
    return min(low, share), max(high, share)
