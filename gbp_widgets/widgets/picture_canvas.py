"""A canvas that shows RGBA pictures sent from the kernel as raw bytes (anywidget).

Pictures travel uncompressed: on the same machine the bytes cost less than encoding a PNG
in the kernel and decoding it in the browser. A crosshair over panels of equal size is
drawn in the browser as the pointer moves, without waiting for the kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import anywidget
import numpy as np
import traitlets

from gbp_widgets.pictures.render import png_bytes

Placed = tuple[np.ndarray, int, int, int]
"""A picture and where it goes: ``(picture, x, y, scale)``, ``picture`` a ``(height, width,
4)`` ``uint8`` RGBA array drawn at canvas pixel ``(x, y)``, each pixel a ``scale`` x
``scale`` block."""

Said = tuple[str, str, object]
"""A control's value as its browser model holds it: ``(model id, attribute, value)``."""

_EVENTS = ("move", "leave", "down", "key", "ready")


class PictureCanvas(anywidget.AnyWidget):
    """One visible canvas of ``width`` x ``height`` pixels (one CSS pixel each).

    With ``panel > 0`` and ``follow`` on, the browser draws a crosshair at the pointer's
    pixel of every panel (panels of ``panel`` pixels, ``gap`` apart, from the left edge).
    ``header`` and ``footer`` are HTML shown over and under it (the kernel escapes what
    it puts in them).
    """

    # The script's text, not its path: anywidget watches a path's file for edits and keeps
    # every instance connected to that watch, so no widget made from a path is ever freed
    # (nor the Explorer around it, with its model and passes).
    _esm = Path(__file__).with_name("picture_canvas.js").read_text(encoding="utf-8")
    width = traitlets.Int(8).tag(sync=True)
    height = traitlets.Int(8).tag(sync=True)
    panel = traitlets.Int(0).tag(sync=True)
    gap = traitlets.Int(0).tag(sync=True)
    follow = traitlets.Bool(False).tag(sync=True)
    crosshair_colour = traitlets.Unicode("#00e5ff").tag(sync=True)
    header = traitlets.Unicode("", help="HTML shown over the canvas").tag(sync=True)
    footer = traitlets.Unicode("", help="HTML shown under the canvas").tag(sync=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._callbacks: dict[str, list[Callable[..., None]]] = {name: [] for name in _EVENTS}
        self.on_msg(self._received)

    def show(
        self, placed: Sequence[Placed] = (), *, clear: bool = False, cross: object = ...
    ) -> None:
        """Draw ``placed`` pictures in one step, after clearing all when ``clear``; with
        ``cross`` given, set the kernel's crosshair: ``(row, column)`` or ``None``."""
        puts, buffers = _packed(placed)
        message: dict = {"size": [self.width, self.height], "clear": clear, "puts": puts}
        if cross is not ...:
            message["cross"] = None if cross is None else [int(v) for v in cross]
        self.send(message, buffers)

    def ahead(self, watch: Sequence[Said], when: Sequence[Said], placed: Sequence[Placed]) -> None:
        """Pictures for the browser to draw, without asking, when a control's browser model
        takes a value in ``when``, provided every other control in ``watch`` (all the
        controls that change the picture) still has the value recorded there.

        They go as PNG (:func:`gbp_widgets.pictures.render.png_bytes`): most are never shown,
        and on a remote server raw pictures ahead would queue in front of the next
        redraw. The browser decodes them as they arrive, off its main thread."""
        puts, buffers = _packed(placed, png=True)
        self.send({"ahead": {"watch": watch, "when": when, "puts": puts}}, buffers)

    def on(self, event: str, callback: Callable[..., None]) -> None:
        """Call ``callback`` on a browser event: ``move``, ``leave`` and ``down`` with the
        canvas point ``(x, y)``; ``key`` with ``(key, shift, ctrl, meta)``; ``ready`` (a
        new view that needs its pictures) with nothing."""
        self._callbacks[event].append(callback)

    def _received(self, _widget: object, content: dict, _buffers: list) -> None:
        event = content.get("event")
        if event not in self._callbacks:
            return
        if event == "key":
            args = (content["key"], content["shift"], content["ctrl"], content["meta"])
        elif event == "ready":
            args = ()
        else:
            args = (content["x"], content["y"])
        for callback in self._callbacks[event]:
            callback(*args)


def _packed(placed: Sequence[Placed], png: bool = False) -> tuple[list[list[int]], list[bytes]]:
    """Where each picture goes, ``[x, y, width, height, scale]``, and its RGBA bytes (or
    the PNG of them)."""
    puts, buffers = [], []
    for picture, x, y, scale in placed:
        if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 4:
            raise ValueError(
                f"a picture must be (height, width, 4) uint8 RGBA, not {picture.dtype} "
                f"{picture.shape}"
            )
        height, width = picture.shape[:2]
        puts.append([int(x), int(y), width, height, int(scale)])
        if png:
            buffers.append(png_bytes(picture))
        else:
            buffers.append(np.ascontiguousarray(picture).tobytes())
    return puts, buffers
