"""The explorer's canvases: panels side by side with a crosshair, the channel grid."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from gbp_widgets.pictures.render import fit
from gbp_widgets.widgets.picture_canvas import PictureCanvas, Placed, Said

GAP = 8
CROSSHAIR = "#00e5ff"


class PanelStrip:
    """Pictures of equal size in one row on one canvas, with a crosshair drawn at the same
    pixel of every panel. Pictures are ``(height, width, 4)`` ``uint8`` RGBA, scaled to the
    panel size."""

    def __init__(self, names: tuple[str, ...], size: int) -> None:
        self.names = names
        self.size = size
        width = len(names) * size + (len(names) - 1) * GAP
        # One CSS pixel per canvas pixel: a canvas is never stretched to fit.
        self.canvas = PictureCanvas(
            width=width,
            height=size,
            panel=size,
            gap=GAP,
            crosshair_colour=CROSSHAIR,
        )
        self.widget = self.canvas
        # What the words over and under the panels say now: the row's caption, each
        # panel's caption and colour key (HTML), by panel name.
        self.caption = ""
        self.captions: dict[str, str] = {}
        self.keys: dict[str, str] = {}
        self._drawn: dict[str, np.ndarray] = {}
        self._last: tuple = ()
        self._cross: tuple[int | None, int | None] = (None, None)
        # A view made later (a reloaded page, a second tab, a reopened notebook) starts
        # blank: it is sent everything again.
        self.canvas.on("ready", self._replay)

    def _replay(self) -> None:
        if self._last:
            self._drawn.clear()
            self.draw(*self._last)
        self.crosshair(*self._cross)

    def offset(self, name: str) -> int:
        """Left edge of panel ``name``, in canvas pixels."""
        return self.names.index(name) * (self.size + GAP)

    def locate(self, x: float, y: float) -> tuple[str, int, int] | None:
        """Panel and ``(row, column)`` inside it under canvas point ``(x, y)``, if any."""
        index, inside = divmod(int(x), self.size + GAP)
        row = int(y)
        if index >= len(self.names) or inside >= self.size or not 0 <= row < self.size:
            return None
        return self.names[index], row, inside

    def draw(
        self,
        pictures: Mapping[str, np.ndarray],
        captions: Mapping[str, str],
        fitted: Mapping[str, np.ndarray] | None = None,
        keys: Mapping[str, str] | None = None,
        caption: str = "",
    ) -> None:
        """Show ``pictures`` (any size, scaled to the panel) under ``captions`` (plain
        text, by panel name) and the row's ``caption``, over ``keys`` (HTML colour keys,
        by panel name); ``fitted``, when given, holds them already at the panel size."""
        self._last = (pictures, captions, fitted, keys, caption)
        # Only the pictures that changed, in one message (the browser draws them together);
        # small masks go at their own size.
        changed = [name for name in self.names if self._drawn.get(name) is not pictures[name]]
        placed = [self._placed(name, pictures[name], (fitted or {}).get(name)) for name in changed]
        if placed:
            self.canvas.show(placed)
        self._drawn.update((name, pictures[name]) for name in changed)
        # The words after the pictures: the browser shows the pictures first.
        self.caption = caption
        self.captions = {name: captions.get(name, name) for name in self.names}
        self.keys = {name: (keys or {}).get(name, "") for name in self.names}
        self.canvas.header = header_html(caption, [self.captions[n] for n in self.names], self.size)
        self.canvas.footer = _columns([self.keys[n] for n in self.names], self.size)

    def send_ahead(
        self, watch: Sequence[Said], when: Sequence[Said], pictures: Mapping[str, np.ndarray]
    ) -> None:
        """Send the panels of this row among ``pictures`` (by name, any size) for the
        browser to show when a control takes a value in ``when`` (see
        :meth:`PictureCanvas.ahead`)."""
        placed = [self._placed(name, pictures[name]) for name in self.names if name in pictures]
        if placed:
            self.canvas.ahead(watch, when, placed)

    def _placed(self, name: str, picture: np.ndarray, fitted: np.ndarray | None = None) -> Placed:
        """``picture`` at panel ``name``: a small square mask that divides the panel goes as
        it is and is scaled up in the browser, block by block; others are fitted here
        (``fitted``: already at the panel size)."""
        height, width = picture.shape[:2]
        if height == width <= self.size and self.size % height == 0:
            return picture, self.offset(name), 0, self.size // height
        return (fit(picture, self.size) if fitted is None else fitted), self.offset(name), 0, 1

    def crosshair(self, row: int | None, column: int | None) -> None:
        """Draw the crosshair at ``(row, column)`` of every panel; ``None`` clears it."""
        self._cross = (row, column)
        self.canvas.show(cross=None if row is None or column is None else (row, column))

    def on_hover(self, callback: Callable[[float, float], None]) -> None:
        """``callback(x, y)`` as the pointer moves; the browser moves the crosshair itself."""
        self.canvas.follow = True
        self.canvas.on("move", callback)

    def on_leave(self, callback: Callable[[float, float], None]) -> None:
        self.canvas.on("leave", callback)

    def on_click(self, callback: Callable[[float, float], None]) -> None:
        self.canvas.on("down", callback)

    def on_key(self, callback: Callable[..., None]) -> None:
        """``callback(key, shift, ctrl, meta)`` for keys pressed while the canvas has focus."""
        self.canvas.on("key", callback)


def header_html(caption: str, captions: Sequence[str], size: int) -> str:
    """The row's caption over the captions of panels ``size`` pixels wide. Every word
    shows: a panel's caption wraps onto a second line, the row's over the whole row."""
    cells = [
        f"<div class='gbp-caption' title='{html.escape(text)}' style='height:2.6em;"
        f"overflow:hidden;overflow-wrap:anywhere;line-height:1.3em'><b>{html.escape(text)}</b>"
        "</div>"
        for text in captions
    ]
    width = len(captions) * size + (len(captions) - 1) * GAP
    row = (
        f"<div class='gbp-row-caption' style='width:{width}px;overflow-wrap:anywhere;"
        f"margin-bottom:2px'>{html.escape(caption)}</div>"
        if caption
        else ""
    )
    return row + _columns(cells, size)


def _columns(cells: Sequence[str], size: int) -> str:
    """HTML ``cells`` side by side, one over each panel of ``size`` pixels."""
    columns = " ".join([f"{size}px"] * len(cells))
    return (
        f"<div style='display:grid;grid-template-columns:{columns};column-gap:{GAP}px'>"
        + "".join(f"<div style='min-width:0'>{cell}</div>" for cell in cells)
        + "</div>"
    )


class GridCanvas:
    """One picture on a canvas that takes the picture's size, under ``header`` (HTML)."""

    def __init__(self, header: str = "") -> None:
        self.canvas = PictureCanvas(width=8, height=8, header=header)
        self.drawn: np.ndarray | None = None
        self.canvas.on("ready", self._replay)

    def _replay(self) -> None:
        """Send the picture again to a view made after it was drawn."""
        picture, self.drawn = self.drawn, None
        if picture is not None:
            self.draw(picture)

    def draw(self, picture: np.ndarray) -> None:
        if picture is self.drawn:
            return
        self.drawn = picture
        height, width = picture.shape[:2]
        if (self.canvas.width, self.canvas.height) != (width, height):
            self.canvas.width, self.canvas.height = width, height
        self.canvas.show([(picture, 0, 0, 1)], clear=True)
