"""The Explorer in Notebook 7 (the classic-style front end on the same server): canvases
equal the kernel's panels, a rule button changes them, and a reload of the saved notebook
brings them back (headless Chromium on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest

from gbp_widgets.explore import MAP_PANELS, MASK_PANELS
from tests.jupyterlab import (
    chromium_page,
    open_and_run,
    panel_saver,
    rows_shown,
    saved_for_rule,
    served_notebook,
    wait_for,
)

ROWS = (MAP_PANELS, MASK_PANELS)
CELLS = ["from gbp_widgets import Explorer\nExplorer()", panel_saver("shown")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("notebook")
    yield from served_notebook(tmp_path_factory, "nb7.ipynb", CELLS)


def _widget_saved(server) -> bool:
    """The notebook on disk holds the Explorer's widget view (saved from the page)."""
    cells = json.loads((server["root"] / "nb7.ipynb").read_text())["cells"]
    return any(
        "application/vnd.jupyter.widget-view+json" in output.get("data", {})
        for output in cells[0]["outputs"]
    )


def test_notebook_7_draws_follows_a_button_and_redraws_after_a_reload(server):
    with chromium_page(1440, 900) as page:
        open_and_run(page, server, "nb7.ipynb", front_end="notebooks")
        panels = saved_for_rule(server["root"], "shown", "guided")
        wait_for(lambda: rows_shown(page, panels, ROWS), 60, "the canvases did not draw")

        page.get_by_role("button", name="Gradient", exact=True).click()
        changed = saved_for_rule(server["root"], "shown", "gradient")
        wait_for(lambda: rows_shown(page, changed, ROWS), 60, "the button changed nothing shown")

        page.keyboard.press("Control+s")
        wait_for(lambda: _widget_saved(server), 60, "the notebook was not saved")
        page.reload()
        page.wait_for_selector(".jp-Notebook", timeout=60_000)
        wait_for(lambda: rows_shown(page, changed, ROWS), 60, "the reloaded page stayed blank")
