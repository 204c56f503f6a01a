"""Every figure shows as a picture: the package's own, and every one a notebook shows in a
fresh kernel, where no pyplot backend has been activated (:func:`figure_problems` is applied
to every notebook's stored copy, run in a fresh kernel, by the docs test, and to the
notebooks the Binder test runs in its fresh environment)."""

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
import torch
from IPython.core.formatters import DisplayFormatter

from gbp_widgets import Explorer
from gbp_widgets.pictures.colour_keys import display_key
from gbp_widgets.pictures.figures import NotebookFigure, colour_bar, panel_figure
from gbp_widgets.sanity import cascading_randomization
from gbp_widgets.sanity.data import DataRandomization
from tests.notebook_figures import figure_problems
from tests.zoo import toy_model

PNG = b"\x89PNG\r\n\x1a\n"


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


def _executed(cells: list[tuple[str, list[dict]]]):
    """A notebook of code cells with these sources and outputs, as if executed."""
    notebook = nbformat.v4.new_notebook()
    for source, outputs in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        notebook.cells.append(cell)
    return notebook


def _result(data: dict) -> dict:
    return {"output_type": "execute_result", "data": data, "metadata": {}, "execution_count": 1}


def test_the_notebook_check_finds_figures_shown_as_text_or_not_at_all():
    """The docs test applies this check to every notebook's stored copy, and the Binder
    test to the notebooks it runs; here it is shown to catch what it is for."""
    text_only = _result({"text/plain": "<Figure size 640x480 with 1 Axes>"})
    picture = _result({"text/plain": "<Figure size 640x480 with 1 Axes>", "image/png": "iVBO"})
    shown = _executed([("result.figure()", [picture])])
    assert figure_problems("01_quickstart.ipynb", shown) == []
    as_text = _executed([("result.figure()", [text_only])])
    assert figure_problems("01_quickstart.ipynb", as_text) == [
        "01_quickstart.ipynb cell 0 shows '<Figure size 640x480 with 1 Axes>' instead of a picture",
        "01_quickstart.ipynb cell 0 makes a figure but shows no picture",
    ]
    without = _executed([("x = 1", [])])
    assert figure_problems("02_three_rules.ipynb", without) == [
        "02_three_rules.ipynb: this tutorial lost its figures"
    ]
    assert figure_problems("assignment_guided_relu.ipynb", without) == []


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
