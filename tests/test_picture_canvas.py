"""What the Explorer's canvases send to the browser, replayed on a NumPy canvas.

``Screen`` applies the messages as ``picture_canvas.js`` does: ``putImageData`` replaces
the pixels at ``(x, y)``; a scaled picture replaces a block of ``scale`` x ``scale``
pixels per pixel. The browser tests check the same pixels in Chromium.
"""

import io

import numpy as np
import pytest
from PIL import Image

from gbp_widgets.widgets.canvas import GAP, GridCanvas, PanelStrip
from gbp_widgets.widgets.picture_canvas import PictureCanvas


class Screen:
    """The pixels a page holds after the messages sent to it."""

    def __init__(self) -> None:
        self.pixels = np.zeros((0, 0, 4), dtype=np.uint8)
        self.cross: list[int] | None = None
        self.messages: list[dict] = []

    def receive(self, content: dict, buffers: list[bytes]) -> None:
        self.messages.append(content)
        width, height = content["size"]
        if self.pixels.shape[:2] != (height, width):
            self.pixels = np.zeros((height, width, 4), dtype=np.uint8)
        if content["clear"]:
            self.pixels[:] = 0
        for (x, y, w, h, scale), data in zip(content["puts"], buffers, strict=True):
            picture = _decoded(data, h, w)
            block = picture.repeat(scale, axis=0).repeat(scale, axis=1)
            self.pixels[y : y + h * scale, x : x + w * scale] = block
        if "cross" in content:
            self.cross = content["cross"]


def _decoded(data: bytes, height: int, width: int) -> np.ndarray:
    """Raw RGBA bytes, or a PNG of them (pictures ahead; opaque ones go as RGB, which a
    browser draws with alpha 255)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        picture = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
        assert picture.shape == (height, width, 4), picture.shape
        return picture
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 4)


@pytest.fixture
def screen(monkeypatch) -> Screen:
    seen = Screen()
    monkeypatch.setattr(
        PictureCanvas, "send", lambda self, content, buffers=None: seen.receive(content, buffers)
    )
    return seen


def solid(value: int, size: int) -> np.ndarray:
    return np.full((size, size, 4), value, dtype=np.uint8)


def panel(screen: Screen, index: int, size: int) -> np.ndarray:
    left = index * (size + GAP)
    return screen.pixels[:, left : left + size]


def test_a_row_shows_each_picture_in_its_panel_and_the_gaps_stay_empty(screen):
    strip = PanelStrip(("left", "right"), 8)
    strip.draw({"left": solid(10, 8), "right": solid(20, 8)}, {})
    assert screen.pixels.shape == (8, 2 * 8 + GAP, 4)
    assert (panel(screen, 0, 8) == 10).all() and (panel(screen, 1, 8) == 20).all()
    assert (screen.pixels[:, 8 : 8 + GAP] == 0).all()


def test_only_the_panel_that_changed_is_sent(screen):
    strip = PanelStrip(("left", "right"), 8)
    left = solid(10, 8)
    strip.draw({"left": left, "right": solid(20, 8)}, {})
    strip.draw({"left": left, "right": solid(30, 8)}, {})
    assert [len(m["puts"]) for m in screen.messages] == [2, 1]
    assert screen.messages[-1]["puts"] == [[8 + GAP, 0, 8, 8, 1]]
    assert (panel(screen, 0, 8) == 10).all() and (panel(screen, 1, 8) == 30).all()
    strip.draw({"left": left, "right": strip._last[0]["right"]}, {})
    assert len(screen.messages) == 2, "an unchanged row sent something"


def test_a_small_mask_goes_as_it_is_and_is_scaled_in_blocks(screen):
    strip = PanelStrip(("left", "right"), 8)
    left = solid(10, 8)
    strip.draw({"left": left, "right": solid(20, 8)}, {})
    mask = np.zeros((2, 2, 4), dtype=np.uint8)
    mask[0, 1] = 255
    strip.draw({"left": left, "right": mask}, {})
    assert screen.messages[-1]["puts"] == [[8 + GAP, 0, 2, 2, 4]]
    shown = panel(screen, 1, 8)
    assert (shown[:4, 4:] == 255).all() and (shown[4:] == 0).all() and (shown[:4, :4] == 0).all()


def test_a_view_made_later_is_sent_the_whole_row_and_the_crosshair(screen):
    strip = PanelStrip(("left", "right"), 8)
    left = solid(10, 8)
    strip.draw({"left": left, "right": solid(20, 8)}, {})
    strip.draw({"left": left, "right": solid(30, 8)}, {})
    strip.crosshair(2, 5)
    later = Screen()
    screen.receive = later.receive
    strip.canvas._received(strip.canvas, {"event": "ready"}, [])
    assert (panel(later, 0, 8) == 10).all() and (panel(later, 1, 8) == 30).all()
    assert later.cross == [2, 5]


def test_the_crosshair_is_set_and_cleared_without_sending_pictures(screen):
    strip = PanelStrip(("left", "right"), 8)
    strip.crosshair(3, 4)
    assert screen.cross == [3, 4] and screen.messages[-1]["puts"] == []
    strip.crosshair(None, None)
    assert screen.cross is None


def test_a_grid_takes_its_pictures_size_and_clears_what_was_there(screen):
    grid = GridCanvas()
    grid.draw(solid(5, 6))
    assert screen.pixels.shape == (6, 6, 4) and (grid.canvas.width, grid.canvas.height) == (6, 6)
    small = np.full((3, 4, 4), 9, dtype=np.uint8)
    grid.draw(small)
    assert screen.pixels.shape == (3, 4, 4) and (screen.pixels == 9).all()
    # The browser sizes the canvas from these; the box around it keeps the row's width,
    # so the words over the grid are not squeezed into the picture's.
    assert (grid.canvas.width, grid.canvas.height) == (4, 3)


def test_browser_events_reach_their_callbacks_with_their_arguments():
    strip = PanelStrip(("left", "right"), 8)
    heard = []
    strip.on_hover(lambda x, y: heard.append(("move", x, y)))
    strip.on_click(lambda x, y: heard.append(("down", x, y)))
    strip.on_leave(lambda x, y: heard.append(("leave", x, y)))
    strip.on_key(lambda *key: heard.append(("key", *key)))
    assert strip.canvas.follow, "a row that follows the pointer draws its crosshair itself"
    received = strip.canvas._received
    received(strip.canvas, {"event": "move", "x": 3.5, "y": 2.0}, [])
    received(strip.canvas, {"event": "down", "x": 12.0, "y": 1.0}, [])
    received(strip.canvas, {"event": "leave", "x": -1.0, "y": 0.0}, [])
    keys = {"key": "ArrowUp", "shift": False, "ctrl": True, "meta": False}
    received(strip.canvas, {"event": "key", **keys}, [])
    received(strip.canvas, {"event": "unheard-of"}, [])
    assert heard == [
        ("move", 3.5, 2.0),
        ("down", 12.0, 1.0),
        ("leave", -1.0, 0.0),
        ("key", "ArrowUp", False, True, False),
    ]


def test_a_picture_that_is_not_rgba_bytes_is_refused_with_what_it_was(screen):
    canvas = PictureCanvas(width=4, height=4)
    with pytest.raises(ValueError, match=r"\(height, width, 4\) uint8 RGBA, not float64"):
        canvas.show([(np.zeros((4, 4, 4)), 0, 0, 1)])
    with pytest.raises(ValueError, match=r"not uint8 \(4, 4, 3\)"):
        canvas.show([(np.zeros((4, 4, 3), dtype=np.uint8), 0, 0, 1)])
    assert screen.messages == []
