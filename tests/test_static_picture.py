"""Where no kernel is behind the widget (nbconvert's HTML, nbviewer, GitHub), an executed
notebook still shows a picture of the Explorer; a terminal gets words, not a bare repr."""

import base64
import io
import re

import nbclient
import nbformat
import numpy as np
import pytest
from nbconvert import HTMLExporter
from PIL import Image

# The fast subset leaves this out: a notebook is run with nbclient.
pytestmark = pytest.mark.notebooks

SOURCE = (
    "import warnings\nwarnings.simplefilter('ignore')\n"
    "from gbp_widgets import Explorer\nexplorer = Explorer(image='coffee')\nexplorer"
)


@pytest.fixture(scope="module")
def executed():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SOURCE)]
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", store_widget_state=False
    )
    client.execute()
    return notebook


def test_the_display_holds_the_live_widget_and_a_picture_of_it(executed):
    data = executed.cells[0].outputs[-1]["data"]
    assert "application/vnd.jupyter.widget-view+json" in data
    assert "explorer.figure()" in data["text/plain"]
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["image/png"]))))
    # What explorer.figure() draws: two rows of three panels over the channel grid, at
    # 72 dpi (2.6 inches a panel), not a blank or a stray figure.
    height, width = picture.shape[:2]
    assert 3 * 2.6 * 72 * 0.9 < width < 3 * 2.6 * 72 * 1.1 and height > width
    assert picture[..., :3].std() > 20


def test_html_without_widget_state_shows_the_picture(executed):
    assert "widgets" not in executed.metadata
    html, _ = HTMLExporter().from_notebook_node(executed)
    shown = re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', html)
    data = executed.cells[0].outputs[-1]["data"]
    assert shown == [data["image/png"]]
