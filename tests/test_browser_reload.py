"""A reloaded page gets its pictures back: ipycanvas keeps none for a client that connects
later, so the Explorer sends them again when the new page's canvases are ready (JupyterLab 4,
headless Chromium, a fresh kernel)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gbp_widgets.explore import MAP_PANELS, MASK_PANELS
from tests.jupyterlab import (
    SIGNAL_EXPLORER_CELL,
    chromium_page,
    load_npz,
    open_and_run,
    read_when_newer,
    rows_shown,
    served_notebook,
    wait_for,
)

CELLS = [
    SIGNAL_EXPLORER_CELL,
    "import numpy as np\nnp.savez('shown.npz', **sig.refresh())\nprint('saved')",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from served_notebook(tmp_path_factory, "reload.ipynb", CELLS)


def _shows(page, panels: dict[str, np.ndarray]) -> bool:
    return rows_shown(page, panels, (MAP_PANELS, MASK_PANELS))


def test_after_a_page_reload_every_canvas_shows_its_pictures_again(lab):
    saved = lab["root"] / "shown.npz"
    with chromium_page(1600, 1400) as page:
        started = time.time()
        open_and_run(page, lab, "reload.ipynb")
        panels = read_when_newer(saved, started, load_npz, "nothing was saved")
        wait_for(lambda: _shows(page, panels), 60, "the canvases did not draw")
        # The static picture beside the widget view is for pages without widgets only.
        assert page.locator(".jp-OutputArea-output img[src^='data:image/png']").count() == 0
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        wait_for(
            lambda: page.evaluate(
                "() => !window.jupyterapp.shell.currentWidget.context.model.dirty"
            ),
            30,
            "the notebook was not saved",
        )
        page.reload()
        page.wait_for_selector(".jp-Notebook", timeout=60_000)
        wait_for(lambda: _shows(page, panels), 60, "the reloaded page's canvases stayed blank")
