"""The Gallery's pictures reach its canvas through ipycanvas's own draw command, PNG at
zlib level 1.

That route is ipycanvas's private ``_canvas_manager`` (its public ``put_image_data``
encodes at the default level, three times slower). pyproject.toml pins the ipycanvas
range it was checked on; this test fails as soon as the fast route is no longer taken.
"""

import io
import struct
import zlib

import ipycanvas.canvas
import numpy as np
import pytest
from ipycanvas import Canvas
from PIL import Image

from gbp_widgets.widgets.ipycanvas_drawing import drawing, put_picture


def _idat(png: bytes) -> bytes:
    """The concatenated IDAT payload (the zlib stream) of a PNG."""
    position, data = 8, b""
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        if kind == b"IDAT":
            data += png[position + 8 : position + 8 + length]
        position += 12 + length
    return data


def test_put_picture_takes_the_fast_route(monkeypatch):
    canvas = Canvas(width=16, height=16)
    sent = []
    manager = canvas._canvas_manager
    monkeypatch.setattr(
        manager,
        "send_draw_command",
        lambda layer, command, args, buffers: sent.append((layer, command, args, buffers)),
    )

    def public_route(*args, **kwargs):
        pytest.fail("put_picture fell back to the slow public put_image_data")

    monkeypatch.setattr(canvas, "put_image_data", public_route)
    picture = np.random.default_rng(0).integers(0, 256, (16, 16, 4), dtype=np.uint8)
    put_picture(canvas, picture, 3, 5)
    assert len(sent) == 1
    layer, command, args, buffers = sent[0]
    assert layer is canvas
    assert command == ipycanvas.canvas.COMMANDS["putImageData"]
    assert args == [3, 5]
    decoded = np.asarray(Image.open(io.BytesIO(buffers[0])))
    np.testing.assert_array_equal(decoded, picture)
    stream = _idat(buffers[0])
    assert stream[:2] == b"\x78\x01", "PNG not compressed at zlib level 1"
    assert zlib.decompress(stream)


def test_each_batch_names_its_canvas_even_when_it_was_named_last(monkeypatch):
    """ipycanvas leaves "switch to canvas" out when the same canvas was last sent; a page
    that connects later has been sent none and would fail on the batch, drawing nothing
    more (seen in CI as blank panels on a second page)."""
    sent = []
    manager = ipycanvas.canvas._CANVAS_MANAGER
    monkeypatch.setattr(manager, "_send_custom", lambda command, buffers=(): sent.append(command))
    canvas = Canvas(width=4, height=4)
    for value in (1, 2):
        with drawing():
            put_picture(canvas, np.full((4, 4, 4), value, dtype=np.uint8), 0, 0)
    switch = ipycanvas.canvas.COMMANDS["switchCanvas"]
    assert [batch[0][0] for batch in sent] == [switch, switch]
