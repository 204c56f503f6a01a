"""The explorer's canvases: panels side by side with a crosshair, the channel grid."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as widgets
import numpy as np

from gbp_widgets.render import fit
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
            layout=widgets.Layout(width=f"{width}px", height=f"{size}px", min_width=f"{width}px"),
        )
        self.captions = widgets.GridBox(
            [
                widgets.HTML(layout=widgets.Layout(width=f"{size}px", margin="0", min_width="0"))
                for _ in names
            ],
            # Captions are cut with an ellipsis inside their column, never scrolled.
            layout=widgets.Layout(
                grid_template_columns=" ".join([f"{size}px"] * len(names)),
                grid_gap=f"0 {GAP}px",
                width=f"{width}px",
                overflow="hidden",
            ),
        )
        # Under each panel, how to read its colours (an empty box where there is no key).
        self.keys = widgets.GridBox(
            [widgets.HTML(layout=widgets.Layout(margin="2px 0 0 0")) for _ in names],
            layout=widgets.Layout(
                grid_template_columns=" ".join([f"{size}px"] * len(names)),
                grid_gap=f"0 {GAP}px",
                width=f"{width}px",
            ),
        )
        # Only in a notebook narrower than one row: scroll sideways rather than clip panels.
        self.widget = widgets.VBox(
            [self.captions, self.canvas, self.keys], layout=widgets.Layout(overflow="auto")
        )
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
    ) -> None:
        """Show ``pictures`` (any size, scaled to the panel) under ``captions`` and over
        ``keys`` (HTML colour keys, by panel name); ``fitted``, when given, holds them
        already at the panel size."""
        self._last = (pictures, captions, fitted, keys)
        # Only the pictures that changed, in one message (the browser draws them together);
        # small masks go at their own size.
        changed = [name for name in self.names if self._drawn.get(name) is not pictures[name]]
        placed = [self._placed(name, pictures[name], (fitted or {}).get(name)) for name in changed]
        if placed:
            self.canvas.show(placed)
        self._drawn.update((name, pictures[name]) for name in changed)
        # The words after the pictures: the browser shows the pictures first.
        for name, box in zip(self.names, self.keys.children, strict=True):
            box.value = (keys or {}).get(name, "")
        for name, caption in zip(self.names, self.captions.children, strict=True):
            text = html.escape(captions.get(name, name))
            # One line of fixed height: a long site name is cut with an ellipsis (the whole
            # name shows on hover) instead of wrapping and moving the canvas down.
            caption.value = (
                f"<div title='{text}' style='white-space:nowrap;overflow:hidden;"
                f"text-overflow:ellipsis;height:1.5em;line-height:1.5em;"
                f"max-width:{self.size - 4}px'><b>{text}</b></div>"
            )

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


class GridCanvas:
    """One picture on a canvas that takes the picture's size."""

    def __init__(self) -> None:
        self.canvas = PictureCanvas(width=8, height=8)
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
            self.canvas.layout.width, self.canvas.layout.height = f"{width}px", f"{height}px"
        self.canvas.show([(picture, 0, 0, 1)], clear=True)
