"""Voila serves a working Explorer: the projector app and the quickstart, as Binder's
``urlpath=voila/render/...`` opens them, in headless Chromium on 127.0.0.1. No code is
shown, the canvases equal the kernel's panels, and a rule button changes them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gbp_widgets.explore import MAP_PANELS, MASK_PANELS
from tests.jupyterlab import (
    chromium_page,
    panel_saver,
    rows_shown,
    saved_for_rule,
    skip_without,
    voila,
    wait_for,
)

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    skip_without("voila")
    root = tmp_path_factory.mktemp("voila")
    for name in ("app", "01_quickstart"):
        notebook = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
        saving = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
        notebook["cells"].append({**saving, "source": panel_saver(name)})
        notebook["cells"] = [{**cell, "id": str(i)} for i, cell in enumerate(notebook["cells"])]
        (root / f"{name}.ipynb").write_text(json.dumps(notebook))
    with voila(root) as server:
        yield server


@pytest.mark.parametrize(
    ("name", "rule", "figures"),
    [("app", "guided", 0), ("01_quickstart", "deconvnet", 1)],
    ids=["app", "quickstart"],
)
def test_voila_serves_a_working_explorer_without_code(served, name, rule, figures):
    """``figures``: the pictures the notebook draws itself (the quickstart's ``figure()``)."""
    rows = (MAP_PANELS, MASK_PANELS)
    with chromium_page(1440, 900) as page:
        page.goto(f"{served['url']}/voila/render/{name}.ipynb", timeout=180_000)
        panels = saved_for_rule(served["root"], name, rule)
        wait_for(lambda: rows_shown(page, panels, rows), 60, "the canvases did not draw")
        page_text = page.content()
        assert "gc.get_objects" not in page_text and "import Explorer" not in page_text
        # Voila renders the widget view; the static picture is for pages without widgets.
        assert page.locator("img[src^='data:image/png']").count() == figures

        page.get_by_role("button", name="Gradient", exact=True).click()
        changed = saved_for_rule(served["root"], name, "gradient")
        assert not np.array_equal(changed["attribution"], panels["attribution"])
        wait_for(
            lambda: rows_shown(page, changed, rows), 60, "the canvases did not follow the button"
        )
