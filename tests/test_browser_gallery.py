"""The Gallery in a real browser: JupyterLab on 127.0.0.1, headless Chromium. Its canvas shows
the page's pictures and maps pixel for pixel; a predicted class chosen in the real dropdown
filters, the real next button turns the page, a click on a tile opens that item in the
Explorer; at 1440 x 900 with the file browser open the page fits."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gbp_widgets.gallery.contact_sheet import SheetLayout
from tests.jupyterlab import (
    SavedByCell,
    chromium_page,
    open_and_run,
    read_canvases,
    served_notebook,
    wait_for,
)

REPO = Path(__file__).resolve().parents[1]
LAYOUT = SheetLayout(columns=4, rows=3)

CELLS = [
    f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
    "import torch\nfrom torch.utils.data import TensorDataset\n"
    "from gbp_widgets import Gallery, explain_dataset\n"
    "from tests.test_dataset import small_cnn\n"
    "generator = torch.Generator().manual_seed(4)\n"
    "x, y = torch.randn(70, 1, 8, 8, generator=generator), torch.arange(70) % 10\n"
    "model, data = small_cnn(), TensorDataset(x, y)\n"
    "results = explain_dataset(model, data, 'results', batch_size=16)\n"
    "gallery = Gallery(results, model, data=data)\ngallery",
    "import json, numpy as np\n"
    "from gbp_widgets.gallery.contact_sheet import sheet\n"
    "rows = gallery.selection[gallery.page * 12:(gallery.page + 1) * 12]\n"
    "tiles = gallery.catalogue.tiles(rows)\n"
    "np.save('sheet.npy', sheet(gallery.layout_of_page.rows_for(len(tiles)),"
    " [(t.picture, t.saliency, False) for t in tiles]))\n"
    "shown = None if gallery.explorer is None else gallery.explorer.inputs\n"
    "same = None if shown is None else bool(torch.equal(shown, x[gallery.item][None]))\n"
    "json.dump({'items': gallery.page_items(), 'page': gallery.page, 'item': gallery.item,\n"
    "           'predicted': gallery.predicted_class, 'same': same},\n"
    "          open('gallery.json', 'w'))\n"
    "print('saved')",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from served_notebook(tmp_path_factory, "gallery.ipynb", CELLS)


def _saves(lab) -> SavedByCell:
    """The page's sheet and the Gallery's state, as the second cell saves them."""
    return SavedByCell(lab["root"], 1, "sheet.npy", "gallery.json", np.load)


def _pictures_shown(page, sheet: np.ndarray, count: int) -> bool:
    """The Gallery canvas, as high as the page's rows of tiles, holds the ``count`` tiles'
    thumbnail boxes of ``sheet`` (captions lie outside them)."""
    drawn = read_canvases(page, f"c.width === {LAYOUT.width} && c.height === {sheet.shape[0]}")
    if not drawn:
        return False
    for i in range(count):
        x, y = LAYOUT.origin(i)
        box = np.s_[y : y + LAYOUT.size, x : x + LAYOUT.tile_width]
        if not np.array_equal(drawn[0][box], sheet[box]):
            return False
    return True


def _page_label(page) -> str:
    return page.locator(".widget-label").filter(has_text=re.compile(r"^page \d")).first.inner_text()


def test_filter_page_and_click_through_the_real_controls(lab):
    with chromium_page(1600, 1200) as page:
        open_and_run(page, lab, "gallery.ipynb")
        sheet, state = _saves(lab).read()
        frame = pd.read_parquet(lab["root"] / "results")
        assert state["items"] == list(range(12))
        wait_for(
            lambda: _pictures_shown(page, sheet, len(state["items"])),
            60,
            "the canvas did not show the page",
        )

        page.get_by_role("button", name="next ▶").click()
        wait_for(lambda: _page_label(page).startswith("page 2 of 6"), 60, "no page turn")
        sheet, state = _saves(lab).rerun(page)
        assert state["items"] == list(range(12, 24))
        wait_for(
            lambda: _pictures_shown(page, sheet, len(state["items"])),
            60,
            "the canvas kept the old page",
        )

        predicted = int(frame["predicted"].mode()[0])
        name = f"class {predicted}"
        page.get_by_label("predicted", exact=True).select_option(label=name)
        expected = frame[frame["predicted"] == predicted].sort_values("index")["index"].tolist()
        wait_for(
            lambda: f"{len(expected)} of 70 items" in _page_label(page),
            60,
            "the filter did nothing",
        )
        sheet, state = _saves(lab).rerun(page)
        assert state["predicted"] == predicted and state["items"] == expected[:12]
        wait_for(
            lambda: _pictures_shown(page, sheet, len(state["items"])),
            60,
            "the canvas did not follow the filter",
        )

        tile = min(2, len(expected) - 1)
        canvas = page.locator(f"canvas[width='{LAYOUT.width}']").first
        canvas.evaluate("c => c.scrollIntoView({block: 'center'})")
        box = canvas.bounding_box()
        x, y = LAYOUT.origin(tile)
        page.mouse.click(box["x"] + x + 20, box["y"] + y + 20)
        heading = f"Item {expected[tile]} in the Explorer"
        wait_for(lambda: page.get_by_text(heading).count() > 0, 90, "the click opened nothing")
        _, state = _saves(lab).rerun(page)
        assert state["item"] == expected[tile] and state["same"] is True


def test_at_laptop_size_with_the_file_browser_open_the_page_fits(lab, tmp_path):
    with chromium_page(1440, 900) as page:
        open_and_run(page, lab, "gallery.ipynb")
        page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
        sheet, state = _saves(lab).read()
        wait_for(lambda: _pictures_shown(page, sheet, len(state["items"])), 60, "no page drawn")
        box = page.evaluate(
            f"() => {{ const c = [...document.querySelectorAll('canvas')]"
            f".find(c => c.width === {LAYOUT.width}); c.scrollIntoView({{block: 'start'}});"
            " const r = c.getBoundingClientRect();"
            " const o = c.closest('.jp-OutputArea-output').getBoundingClientRect();"
            " return {left: r.left, right: r.right, outputLeft: o.left, outputRight: o.right}; }"
        )
        page.screenshot(path=str(tmp_path / "gallery-laptop.png"))
        assert page.evaluate(
            "() => !!document.querySelector('.jp-FileBrowser:not(.lm-mod-hidden)')"
        )
        assert box["outputLeft"] <= box["left"] and box["right"] <= box["outputRight"], box
