"""Matplotlib figures that show as pictures in any notebook (no torch, no widgets)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class NotebookFigure(Figure):
    """A matplotlib ``Figure`` that displays itself as a PNG in IPython front ends.

    A bare ``Figure`` gets a picture only once pyplot's inline backend is
    active; until then Jupyter prints ``<Figure size ...>``. This one carries
    its own ``_repr_png_``, which every IPython display formatter (JupyterLab,
    Notebook 7, VS Code, Colab) reads, and needs no pyplot: no global figure
    list, so it is safe in widgets and threads. It is a plain ``Figure``
    otherwise: ``savefig``, axes and all.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        FigureCanvasAgg(self)

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def panel_figure(
    panels: Mapping[str, np.ndarray], title: str = "", panel_inches: float = 2.6, note: str = ""
) -> NotebookFigure:
    """One row of pictures, each titled with its key, with ``note`` beneath them.

    ``panels`` maps a caption to an ``(H, W, 3 or 4)`` ``uint8`` picture.
    """
    if not panels:
        raise ValueError("panel_figure needs at least one panel")
    count = len(panels)
    height = panel_inches + (0.9 if title else 0.4) + (0.3 if note else 0.0)
    figure = NotebookFigure(figsize=(panel_inches * count, height))
    axes = figure.subplots(1, count, squeeze=False)[0]
    for axis, (caption, picture) in zip(axes, panels.items(), strict=True):
        axis.imshow(picture, interpolation="nearest")
        # Wrapped, so a long caption never runs into its neighbour's.
        axis.set_title("\n".join(textwrap.wrap(caption, 30)) or caption, fontsize=10)
        axis.set_axis_off()
    if title:
        figure.suptitle(title, fontsize=10)
    if note:
        figure.supxlabel(note, fontsize=8, color="0.3")
    figure.tight_layout()
    return figure


def top_classes_title(probabilities: Sequence[float], classes: Sequence[str], k: int = 5) -> str:
    """``"1. tabby 61.2%  2. ..."`` for the ``k`` most probable classes."""
    order = np.argsort(np.asarray(probabilities))[::-1][:k]
    return "  ".join(
        f"{rank}. {classes[i]} {100 * probabilities[i]:.1f}%" for rank, i in enumerate(order, 1)
    )
