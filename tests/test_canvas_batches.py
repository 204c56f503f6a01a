"""Every batch of drawing commands names its canvas first, so a page that connects to a
running kernel (a second tab, a reload, a notebook reopened) can draw it.

ipycanvas's kernel side skips "switch to canvas" when it last sent the same canvas; a new
page has been sent none, fails on the first command and then draws nothing more. Seen in
CI as an Explorer whose panels stayed blank on the second page opened on one kernel.
"""

import ipycanvas.canvas
import numpy as np
import pytest
from ipycanvas import Canvas

from gbp_widgets.widgets.canvas import GridCanvas, PanelStrip

SWITCH = ipycanvas.canvas.COMMANDS["switchCanvas"]
SET = ipycanvas.canvas.COMMANDS["set"]
SMOOTHING = Canvas.ATTRS["image_smoothing_enabled"]


@pytest.fixture
def batches(monkeypatch) -> list[list]:
    """The command lists the canvas manager sends, one per batch, as they are sent."""
    sent: list[list] = []
    manager = ipycanvas.canvas._CANVAS_MANAGER
    monkeypatch.setattr(manager, "_send_custom", lambda command, buffers=(): sent.append(command))
    return sent


def picture(value: int, size: int) -> np.ndarray:
    return np.full((size, size, 4), value, dtype=np.uint8)


def test_each_batch_of_a_strip_begins_with_its_canvas(batches):
    strip = PanelStrip(("left", "right"), 8)
    first = {"left": picture(10, 8), "right": picture(20, 8)}
    strip.draw(first, {})
    strip.draw({**first, "right": picture(30, 8)}, {})
    strip.crosshair(2, 3)
    strip.crosshair(4, 5)
    strip.draw({**first, "right": picture(40, 8)}, {})
    assert len(batches) == 5
    for batch in batches:
        assert batch[0][0] == SWITCH, batch[0]


def test_a_grid_redrawn_on_the_same_canvas_names_it_again(batches):
    grid = GridCanvas()
    grid.draw(picture(1, 4))
    grid.draw(picture(2, 4))
    assert [batch[0][0] for batch in batches] == [SWITCH, SWITCH]


def test_a_small_mask_scaled_up_turns_smoothing_off_in_its_own_batch(batches):
    strip = PanelStrip(("left", "right"), 8)
    first = {"left": picture(10, 8), "right": picture(20, 8)}
    strip.draw(first, {})
    strip.draw({**first, "right": picture(30, 2)}, {})
    scaled = batches[-1]
    assert [SET, [SMOOTHING, False]] in [command[:2] for command in scaled], scaled
