"""The explorer's canvases: panels side by side, a crosshair layer, the channel grid."""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import ipycanvas.canvas
import ipywidgets as widgets
import numpy as np
from ipycanvas import Canvas, MultiCanvas, hold_canvas
from PIL import Image

from gbp_widgets.render import fit

GAP = 8
CROSSHAIR = "#00e5ff"


@contextmanager
def drawing() -> Iterator[None]:
    """Hold the drawing commands of the block and send them as one batch that begins by
    naming its canvas.

    ipycanvas's kernel side leaves out the "switch to canvas" command when the browser
    was last told the same canvas. A page opened or reloaded later (the kernel still
    running) has been told nothing: its first command then fails, and the failure stops
    every later drawing command on that page, so the panels stay blank. Forgetting the
    last canvas makes each batch name its own.
    """
    manager = getattr(ipycanvas.canvas, "_CANVAS_MANAGER", None)
    if manager is not None and hasattr(manager, "_current_canvas"):
        manager._current_canvas = None
    with hold_canvas():
        yield


def put_picture(layer: Canvas, picture: np.ndarray, x: float, y: float) -> None:
    """Draw an RGBA picture losslessly at ``(x, y)`` (affected by the layer's transform).

    ipycanvas encodes pictures as PNG at zlib's default level, which costs about
    16 ms for a noisy 224 x 224 map; level 1 costs a third of that for the same
    pixels. Where this ipycanvas version lacks the command used, the public
    ``put_image_data`` does the same, only slower.
    """
    manager = getattr(layer, "_canvas_manager", None)
    command = getattr(ipycanvas.canvas, "COMMANDS", {}).get("putImageData")
    if manager is None or command is None:
        layer.put_image_data(picture, x, y)
        return
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "PNG", compress_level=1)
    manager.send_draw_command(layer, command, [x, y], [buffer.getvalue()])


class PanelStrip:
    """Pictures of equal size in one row on a two-layer canvas.

    Layer 0 holds the pictures, layer 1 the crosshair drawn at the same pixel
    of every panel. Pictures must be ``(size, size, 4)`` ``uint8`` RGBA:
    ipycanvas sends RGBA losslessly (PNG) but JPEG-encodes RGB.
    """

    def __init__(self, names: tuple[str, ...], size: int) -> None:
        self.names = names
        self.size = size
        width = len(names) * size + (len(names) - 1) * GAP
        # One CSS pixel per canvas pixel: ipycanvas otherwise stretches canvases to fit.
        self.canvas = MultiCanvas(
            2,
            width=width,
            height=size,
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
        # A canvas keeps no picture for a client that connects later (a reloaded page, a
        # second tab, a reopened notebook): each one is sent everything again.
        self.canvas.on_client_ready(self._replay)

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
        # Send only the pictures that changed. The browser decodes pictures one after
        # another (about 12 ms each in headless Chromium), so when several panels of the row
        # changed they go as one picture of the whole row.
        changed = [name for name in self.names if self._drawn.get(name) is not pictures[name]]
        layer = self.canvas[0]
        if len(changed) > 1:
            with drawing():
                put_picture(layer, self._row(fitted or pictures), 0, 0)
            self._drawn.update((name, pictures[name]) for name in changed)
            return
        with drawing():
            for name in changed:
                picture = pictures[name]
                height, width = picture.shape[:2]
                if height == width <= self.size and self.size % height == 0:
                    factor = self.size // height
                    # Small masks are sent as they are and scaled up by the browser,
                    # block by block; set each time, as a reloaded page starts smoothing.
                    layer.image_smoothing_enabled = False
                    layer.save()
                    layer.scale(factor)
                    put_picture(layer, picture, self.offset(name) / factor, 0)
                    layer.restore()
                else:
                    put_picture(layer, fit(picture, self.size), self.offset(name), 0)
        self._drawn.update((name, pictures[name]) for name in changed)

    def _row(self, pictures: Mapping[str, np.ndarray]) -> np.ndarray:
        """All panels side by side at the panel size, gaps transparent: ``(size, width, 4)``."""
        row = np.zeros((self.size, self.canvas.width, 4), dtype=np.uint8)
        for name in self.names:
            left = self.offset(name)
            row[:, left : left + self.size] = fit(pictures[name], self.size)
        return row

    def crosshair(self, row: int | None, column: int | None) -> None:
        """Draw the crosshair at ``(row, column)`` of every panel; ``None`` clears it."""
        self._cross = (row, column)
        layer = self.canvas[1]
        with drawing():
            layer.clear()
            if row is None or column is None:
                return
            layer.stroke_style = CROSSHAIR
            layer.line_width = 1
            for name in self.names:
                left = self.offset(name)
                layer.stroke_line(left, row + 0.5, left + self.size, row + 0.5)
                layer.stroke_line(left + column + 0.5, 0, left + column + 0.5, self.size)

    def on_hover(self, callback: Callable[[float, float], None]) -> None:
        self.canvas.on_mouse_move(callback)

    def on_leave(self, callback: Callable[[float, float], None]) -> None:
        self.canvas.on_mouse_out(callback)

    def on_click(self, callback: Callable[[float, float], None]) -> None:
        self.canvas.on_mouse_down(callback)

    def on_key(self, callback: Callable[..., None]) -> None:
        """``callback(key, shift, ctrl, meta)`` for keys pressed while the canvas has focus."""
        self.canvas.on_key_down(callback)


class GridCanvas:
    """One picture on a canvas that takes the picture's size."""

    def __init__(self) -> None:
        self.canvas = Canvas(width=8, height=8)
        self.drawn: np.ndarray | None = None
        self.canvas.on_client_ready(self._replay)

    def _replay(self) -> None:
        """Send the picture again to a client that connected after it was drawn."""
        picture, self.drawn = self.drawn, None
        if picture is not None:
            self.draw(picture)

    def draw(self, picture: np.ndarray) -> None:
        if picture is self.drawn:
            return
        self.drawn = picture
        height, width = picture.shape[:2]
        with drawing():
            if (self.canvas.width, self.canvas.height) != (width, height):
                self.canvas.width, self.canvas.height = width, height
                self.canvas.layout.width, self.canvas.layout.height = f"{width}px", f"{height}px"
            self.canvas.clear()
            put_picture(self.canvas, picture, 0, 0)
