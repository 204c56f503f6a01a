"""Matplotlib figures that show as pictures in any notebook (no torch, no widgets)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from gbp_widgets.pictures.colour_keys import ColourKey, LabelKey


@dataclass(frozen=True)
class Labelled:
    """A picture with words that the figure writes over it in its own font, so they stay
    sharp at any resolution: ``labels`` are ``(row, text)``, ``row`` in picture pixels,
    each written from the left edge within ``width`` pixels."""

    picture: np.ndarray
    labels: tuple[tuple[float, str], ...]
    width: int


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
    panels: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]],
    title: str = "",
    panel_inches: float = 2.6,
    note: str = "",
    keys: Mapping[str, ColourKey | LabelKey] | None = None,
    wide: tuple[str, np.ndarray] | None = None,
) -> NotebookFigure:
    """Rows of pictures, each titled with its caption, a colour key under each panel whose
    caption is in ``keys``, ``wide`` (a caption and a picture, such as a channel grid)
    across the bottom, and ``note`` beneath everything.

    ``panels`` maps a caption to an ``(H, W, 3 or 4)`` ``uint8`` picture (or a
    :class:`Labelled` one): one row, or a sequence of such rows.
    """
    rows = [panels] if isinstance(panels, Mapping) else list(panels)
    if not any(rows):
        raise ValueError("panel_figure needs at least one panel")
    keys = keys or {}
    columns = max(len(row) for row in rows)
    caption_inches = 0.45
    heights: list[float] = []
    places = []  # per row: the grid row of its pictures, and of its keys (None: no key)
    for row in rows:
        heights.append(panel_inches + caption_inches)
        keyed = any(caption in keys for caption in row)
        places.append((len(heights) - 1, len(heights) if keyed else None))
        if keyed:
            heights.append(_KEY_INCHES)
    if wide is not None:
        height, width = wide[1].shape[:2]
        # A tall grid of many channels is shrunk to keep the figure near a page's height.
        shown = min(columns * panel_inches * height / width, _WIDE_ROWS * panel_inches)
        heights.append(caption_inches + shown)
        if wide[0] in keys:
            heights.append(_KEY_INCHES)
    extra = (0.5 + 0.2 * title.count("\n") if title else 0.1) + (0.3 if note else 0.0)
    figure = NotebookFigure(
        figsize=(panel_inches * columns, sum(heights) + extra), layout="constrained"
    )
    grid = figure.add_gridspec(len(heights), columns, height_ratios=heights)
    for row, (pictures_at, keys_at) in zip(rows, places, strict=True):
        for column, (caption, picture) in enumerate(row.items()):
            _picture(figure.add_subplot(grid[pictures_at, column]), caption, picture)
            if caption in keys:
                _key(figure.add_subplot(grid[keys_at, column]), keys[caption])
    if wide is not None:
        caption, picture = wide
        keyed = caption in keys
        _picture(figure.add_subplot(grid[len(heights) - 1 - keyed, :]), caption, picture, 120)
        if keyed:
            _key(figure.add_subplot(grid[len(heights) - 1, 0]), keys[caption])
    if title:
        figure.suptitle(title, fontsize=10)
    if note:
        figure.supxlabel(note, fontsize=8, color="0.3")
    return figure


# Height of a colour key with its words, in inches.
_KEY_INCHES = 0.42
# The most a wide picture may take, in panel heights.
_WIDE_ROWS = 1.5


def _picture(axis, caption: str, picture: np.ndarray | Labelled, wrap: int = 30) -> None:
    if isinstance(picture, Labelled):
        # As many characters as the label column holds at this panel's width (a character
        # of the 7-point font is about 4 points wide).
        points = axis.get_position().width * axis.figure.get_figwidth() * 72
        most = max(int(points * picture.width / picture.picture.shape[1] / 4.2), 2)
        for row, text in picture.labels:
            shown = text if len(text) <= most else text[: most - 1] + "…"
            axis.text(2, row, shown, fontsize=7, va="center", ha="left")
        picture = picture.picture
    axis.imshow(picture, interpolation="nearest")
    # Wrapped, so a long caption never runs into its neighbour's.
    axis.set_title("\n".join(textwrap.wrap(caption, wrap)) or caption, fontsize=10)
    axis.set_axis_off()


def _key(axis, key: ColourKey | LabelKey) -> None:
    """A colour ramp with its words: the end words inside the ends, so that they never
    reach the next panel's key; for a label map, a swatch and a name per class."""
    if isinstance(key, LabelKey):
        _label_key(axis, key)
        return
    axis.imshow(key.ramp[None], aspect="auto", extent=(0.0, 1.0, 0.0, 1.0))
    places = [(0.0, "left"), (0.5, "center"), (1.0, "right")]
    shown = [(x, word, align) for (x, align), word in zip(places, key.words, strict=True) if word]
    axis.set_xticks([x for x, _, _ in shown], [word for _, word, _ in shown], fontsize=7)
    for label, (_, _, align) in zip(axis.get_xticklabels(), shown, strict=True):
        label.set_horizontalalignment(align)
    axis.set_yticks([])
    axis.tick_params(length=2, pad=1)


def _label_key(axis, key: LabelKey) -> None:
    names = [name for _, name in key.swatches] + ([f"+{key.more} more"] if key.more else [])
    columns = min(3, len(names))
    for i, name in enumerate(names):
        row, column = divmod(i, columns)
        x, y = column / columns, 1.0 - (row + 0.5) / 2
        if i < len(key.swatches):
            colour = np.array(key.swatches[i][0]) / 255.0
            axis.add_patch(Rectangle((x, y - 0.18), 0.05, 0.36, color=colour, ec="0.5", lw=0.5))
        axis.text(x + 0.07, y, name, fontsize=7, va="center", clip_on=True)
    axis.set_xlim(0, 1), axis.set_ylim(0, 1)
    axis.set_axis_off()


def top_classes_title(probabilities: Sequence[float], classes: Sequence[str], k: int = 5) -> str:
    """``"1. tabby 61.2%  2. ..."`` for the ``k`` most probable classes."""
    order = np.argsort(np.asarray(probabilities))[::-1][:k]
    return "  ".join(
        f"{rank}. {classes[i]} {100 * probabilities[i]:.1f}%" for rank, i in enumerate(order, 1)
    )


def gray_key(figure: Figure, axes, label: str) -> None:
    """A black (0) to white (1) colour bar beside ``axes``, saying what 1 is."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    scale = ScalarMappable(norm=Normalize(0.0, 1.0), cmap="gray")
    bar = figure.colorbar(scale, ax=axes, shrink=0.8, aspect=30, pad=0.02)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)


def colour_bar(figure: Figure, axes, key: ColourKey, label: str = "") -> None:
    """``key`` as a colour bar under ``axes`` (one or several), its words at the ends and
    the middle: the key to maps drawn by :mod:`gbp_widgets.pictures.render` in a figure of
    one's own."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    scale = ScalarMappable(norm=Normalize(0.0, 1.0), cmap=ListedColormap(key.ramp / 255.0))
    bar = figure.colorbar(
        scale, ax=axes, location="bottom", shrink=0.6, aspect=40, pad=0.02, label=label
    )
    shown = [(x, word) for x, word in zip((0.0, 0.5, 1.0), key.words, strict=True) if word]
    bar.set_ticks([x for x, _ in shown], labels=[word for _, word in shown], fontsize=8)
    bar.ax.xaxis.label.set_fontsize(8)


def pass_fraction_figure(
    sites: Sequence[str], curves: Mapping[str, np.ndarray], passing: str, width: float = 9.0
) -> NotebookFigure:
    """A line per entry of ``curves`` (a name to ``(sites,)`` shares in [0, 1]) over the
    sites in order: how much of each layer the rule lets through. ``passing`` names the
    mask counted (e.g. ``"product mask"``)."""
    # Fixed margins: a constrained layout would double the time to draw, which a Gallery
    # pays on every filter change.
    figure = NotebookFigure(figsize=(width, 3.0))
    figure.subplots_adjust(left=0.09, right=0.8, bottom=0.3, top=0.96)
    axes = figure.add_subplot()
    positions = np.arange(len(sites))
    for name, values in curves.items():
        axes.plot(positions, values, marker="o", markersize=3, linewidth=1.2, label=name)
    axes.set_ylim(0, 1)
    axes.set_ylabel(f"share open\n({passing})")
    axes.set_xlabel("site, input side to output side")
    step = max(1, int(np.ceil(len(sites) / 16)))
    axes.set_xticks(positions[::step], [sites[i] for i in positions[::step]], rotation=40)
    axes.tick_params(axis="x", labelsize=7)
    axes.grid(alpha=0.3)
    if curves:
        axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    else:
        axes.text(0.5, 0.5, "no items", transform=axes.transAxes, ha="center", color="grey")
    return figure
