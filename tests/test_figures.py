"""Every figure shows as a picture: the package's own, and every one a notebook shows in a
fresh kernel, where no pyplot backend has been activated."""

import re
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
import torch
from IPython.core.formatters import DisplayFormatter
from nbclient import NotebookClient

from gbp_widgets import Explorer
from gbp_widgets.colour_keys import display_key
from gbp_widgets.figures import NotebookFigure, colour_bar, panel_figure
from gbp_widgets.sanity import cascading_randomization
from gbp_widgets.sanity.data import DataRandomization
from tests.zoo import toy_model

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
PNG = b"\x89PNG\r\n\x1a\n"
FIGURE_TEXT = re.compile(r"^<Figure size [^>]*>$")


def shown_as_picture(obj) -> bool:
    """What IPython front ends get for ``obj``: a PNG among its representations."""
    data, _ = DisplayFormatter().format(obj)
    return "image/png" in data


def _fake_data_randomization() -> DataRandomization:
    rng = np.random.default_rng(0)
    maps = {(w, "guided"): rng.normal(size=(6, 8, 8)) for w in ("true", "random")}
    return DataRandomization(None, None, 0.99, 0.4, {}, maps, rng.random((6, 8, 8)))


def _sanity_result():
    torch.manual_seed(0)
    return cascading_randomization(
        toy_model("module_relus"), torch.randn(1, 3, 16, 16), 3, max_steps=1, progress=False
    )


FIGURES = {
    "panel_figure": lambda: panel_figure({"a": np.zeros((4, 4, 3), np.uint8)}, "title"),
    "SanityResult.figure": lambda: _sanity_result().figure(),
    "SanityResult.grid_figure": lambda: _sanity_result().grid_figure(),
    "DataRandomization.figure": lambda: _fake_data_randomization().figure(),
    "Explorer.figure": lambda: Explorer(panel_size=64).figure(),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_package_figure_has_a_picture_of_its_own(name):
    before = plt.get_fignums()
    figure = FIGURES[name]()
    assert isinstance(figure, NotebookFigure)
    assert shown_as_picture(figure)
    assert figure._repr_png_().startswith(PNG)
    assert plt.get_fignums() == before, "a package figure must not enter pyplot's global list"


def test_a_bare_matplotlib_figure_is_text_only_so_the_test_above_can_fail():
    from matplotlib.figure import Figure

    assert not shown_as_picture(Figure())


def _figure_cell(cell) -> bool:
    lines = [line for line in cell.source.strip().splitlines() if line.strip()]
    return bool(lines) and bool(re.search(r"plt\.show\(\)|figure\([^()]*\)$", lines[-1].strip()))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_figure_is_a_picture_in_a_fresh_kernel(path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": path.parent}}
    ).execute()
    figure_cells = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        pictures = 0
        for output in cell.outputs:
            data = output.get("data", {})
            pictures += "image/png" in data
            text = data.get("text/plain", "")
            assert not (FIGURE_TEXT.match(text) and "image/png" not in data), (
                f"cell {index} shows {text!r} instead of a picture"
            )
        if _figure_cell(cell):
            figure_cells += 1
            assert pictures, f"cell {index} makes a figure but shows no picture"
    # The assignments, notebook 05, the app (the Explorer alone) and notebook 09 (its pictures
    # are the Gallery's) draw no figure of their own.
    own_figures = ("assignment" not in path.name) and path.name != "app.ipynb"
    if own_figures and not path.name.startswith(("05_", "09_")):
        assert figure_cells, "this tutorial lost its figures"


def test_a_colour_bar_under_ones_own_axes_reads_as_the_key():
    figure = NotebookFigure(figsize=(6, 3), layout="constrained")
    axes = figure.subplots(1, 2)
    colour_bar(figure, axes, display_key("gradient", 95.0))
    bar = figure.axes[-1]
    assert [t.get_text() for t in bar.get_xticklabels()] == ["-p95", "0 (each of R, G, B)", "+p95"]
    # The bar's colours run from black through mid-grey to white, as render.gradient_image.
    figure.canvas.draw()
    image = np.asarray(figure.canvas.buffer_rgba())
    box = bar.get_window_extent()
    row = image[image.shape[0] - int(box.y0 + box.height / 2), int(box.x0) + 2 : int(box.x1) - 2]
    assert row[0, :3].max() < 20 and row[-1, :3].min() > 235
    assert abs(int(row[len(row) // 2, 0]) - 128) < 12
