"""Matplotlib figures of rendered panels (no torch, no widgets)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


def panel_figure(
    panels: Mapping[str, np.ndarray], title: str = "", panel_inches: float = 2.6
) -> Figure:
    """One row of pictures, each titled with its key.

    ``panels`` maps a caption to an ``(H, W, 3 or 4)`` ``uint8`` picture. The
    figure is created without pyplot, so it works headless and leaves no
    global figure behind.
    """
    if not panels:
        raise ValueError("panel_figure needs at least one panel")
    count = len(panels)
    figure = Figure(figsize=(panel_inches * count, panel_inches + (0.9 if title else 0.4)))
    axes = figure.subplots(1, count, squeeze=False)[0]
    for axis, (caption, picture) in zip(axes, panels.items(), strict=True):
        axis.imshow(picture, interpolation="nearest")
        axis.set_title(caption, fontsize=10)
        axis.set_axis_off()
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def top_classes_title(probabilities: Sequence[float], classes: Sequence[str], k: int = 5) -> str:
    """``"1. tabby 61.2%  2. ..."`` for the ``k`` most probable classes."""
    order = np.argsort(np.asarray(probabilities))[::-1][:k]
    return "  ".join(
        f"{rank}. {classes[i]} {100 * probabilities[i]:.1f}%" for rank, i in enumerate(order, 1)
    )
