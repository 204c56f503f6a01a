"""Figures of text: tokens coloured by their scores, and token x unit grids. NumPy and
matplotlib only; the caller gives the token strings as they are to be shown."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.patches import Rectangle

from gbp_widgets.pictures.figures import NotebookFigure
from gbp_widgets.pictures.tokens import dark_ink, score_colours


def draw_tokens(ax, tokens: Sequence[str], scores: np.ndarray, signed: bool, per_line: int) -> None:
    """Tokens as cells on ``ax``, ``per_line`` to a line, coloured by ``scores`` scaled
    by the largest magnitude (:func:`~gbp_widgets.pictures.tokens.score_colours`)."""
    colours = score_colours(scores, signed, 100.0)
    lines = max(1, -(-len(tokens) // per_line))
    ax.set_xlim(0, per_line)
    ax.set_ylim(lines, 0)
    ax.axis("off")
    for index, (token, colour) in enumerate(zip(tokens, colours, strict=True)):
        row, column = divmod(index, per_line)
        ax.add_patch(
            Rectangle(
                (column + 0.04, row + 0.08), 0.92, 0.84, facecolor=colour / 255, edgecolor="0.7"
            )
        )
        ax.text(
            column + 0.5,
            row + 0.5,
            token,
            ha="center",
            va="center",
            fontsize=9,
            color="black" if dark_ink(colour) else "white",
            family="DejaVu Sans Mono",
        )


def text_figure(
    title: str,
    tokens: Sequence[str],
    rows: Sequence[tuple[str, np.ndarray, bool]],
    grids: Sequence[tuple[str, np.ndarray]] = (),
    grid_units: Sequence[int] = (),
    per_line: int = 32,
) -> NotebookFigure:
    """A figure: ``rows`` of (caption, scores ``(T,)``, signed) as coloured token strips,
    then ``grids`` of (caption, values ``(T, U)`` in [0, 1]) with tokens down the side and
    units ``grid_units`` along the bottom."""
    lines = max(1, -(-len(tokens) // per_line))
    strip = 0.42 * lines + 0.45
    grid_height = 0.17 * len(tokens) + 1.0 if grids else 0.0
    figure = NotebookFigure(
        figsize=(11, 0.7 + strip * len(rows) + grid_height), layout="constrained"
    )
    figure.suptitle(title, fontsize=10)
    heights = [strip] * len(rows) + ([grid_height] if grids else [])
    spec = figure.add_gridspec(len(heights), 1, height_ratios=heights)
    for place, (caption, scores, signed) in enumerate(rows):
        ax = figure.add_subplot(spec[place])
        draw_tokens(ax, tokens, scores, signed, per_line)
        ax.set_title(caption, fontsize=9, loc="left")
    if grids:
        inner = spec[len(rows)].subgridspec(1, len(grids))
        for place, (caption, values) in enumerate(grids):
            ax = figure.add_subplot(inner[place])
            ax.imshow(
                values, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest"
            )
            ax.set_title(caption, fontsize=9)
            ax.set_yticks(
                range(len(tokens)),
                tokens if place == 0 else [""] * len(tokens),
                fontsize=7,
                family="DejaVu Sans Mono",
            )
            shown = list(range(0, len(grid_units), max(1, len(grid_units) // 8)))
            ax.set_xticks(shown, [str(grid_units[i]) for i in shown], fontsize=7)
            ax.set_xlabel("unit (ranked by what it passes)", fontsize=8)
    return figure
