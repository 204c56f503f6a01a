"""Drawing on ipycanvas canvases (the Gallery's page): batches that name their canvas, and
pictures sent as PNG at zlib level 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import ipycanvas.canvas
import numpy as np
from ipycanvas import Canvas, hold_canvas

from gbp_widgets.pictures.render import png_bytes


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

    ipycanvas encodes pictures as PNG at zlib's default level, about 16 ms for a noisy
    224 x 224 map; :func:`gbp_widgets.pictures.render.png_bytes` makes the same pixels
    in about a sixth of that. Where this ipycanvas version lacks the command used, the
    public ``put_image_data`` does the same, only slower.
    """
    manager = getattr(layer, "_canvas_manager", None)
    command = getattr(ipycanvas.canvas, "COMMANDS", {}).get("putImageData")
    if manager is None or command is None:
        layer.put_image_data(picture, x, y)
        return
    manager.send_draw_command(layer, command, [x, y], [png_bytes(picture)])
