"""The tokens view in a real browser: JupyterLab on 127.0.0.1, headless Chromium at 1440 x 900
with the file browser open. A sentence typed into the text box (Enter explains it), a token
clicked, a prediction clicked, a grid cell hovered, a site and a unit stepped with the arrow keys,
each answered by the kernel; token text that is markup is shown as text everywhere."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.jupyterlab import chromium_page, open_and_run, served_notebook, wait_for
from tests.test_browser import assert_captions_and_controls_fit

# The Explorer writes its traits to text_state.json after every change, for the test to read.
CELLS = [
    "import json, os\nfrom gbp_widgets import Explorer\n"
    "explorer = Explorer(text='for item in items:', activations='gated')\n"
    "def _save(change=None):\n"
    "    state = {n: getattr(explorer, n) for n in ('text', 'target', 'site', 'target_kind',"
    " 'unit')}\n"
    "    region = explorer.region\n"
    "    state['tokens'] = None if region is None else region.mask.nonzero()[0].tolist()\n"
    "    state['top'] = [v for _, v in explorer.controls.top.options]\n"
    "    with open('text_state.tmp', 'w') as f:\n"
    "        json.dump(state, f)\n"
    "    os.replace('text_state.tmp', 'text_state.json')\n"
    "explorer.observe(_save, ['text', 'region', 'target', 'site', 'target_kind', 'unit'])\n"
    "explorer.controls.top.observe(_save, 'options')\n"
    "_save()\nexplorer",
]

MARKUP = "<img/src=x/onerror=alert(1)>"
ESCAPE_CELLS = [
    "import torch\nfrom gbp_widgets import Explorer\n"
    "class Words:\n"
    f"    vocabulary = [{MARKUP!r}, 'the', 'cat', 'sat']\n"
    "    def __call__(self, text):\n"
    "        return [self.vocabulary.index(w) for w in text.split()]\n"
    "    def decode(self, ids):\n"
    "        return ' '.join(self.vocabulary[i] for i in ids)\n"
    "class TinyLM(torch.nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.tokens = torch.nn.Embedding(4, 8)\n"
    "        self.mlp = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU())\n"
    "        self.head = torch.nn.Linear(16, 4)\n"
    "    def forward(self, ids):\n"
    "        return self.head(self.mlp(self.tokens(ids)))\n"
    "torch.manual_seed(0)\n"
    f"shown = Explorer(model=TinyLM(), text='the {MARKUP} cat', tokenizer=Words(),\n"
    "    activations='gated', target=0)\nshown",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from served_notebook(tmp_path_factory, "text.ipynb", CELLS)


@pytest.fixture(scope="module")
def escape_lab(tmp_path_factory):
    # A server of its own: JupyterLab reopens the tabs a page left, and run-all would run
    # whichever notebook it put in front.
    yield from served_notebook(tmp_path_factory, "escape.ipynb", ESCAPE_CELLS)


def state(lab) -> dict:
    return json.loads((Path(lab["root"]) / "text_state.json").read_text())


def row_box(page, index: int) -> dict:
    """The page box of the ``index``-th panel row's canvas (three panels of 224 px)."""
    return page.evaluate(
        "(i) => { const c = [...document.querySelectorAll('canvas')]"
        ".filter(c => c.width === 3 * 224 + 2 * 8 && c.offsetParent)[i];"
        " c.scrollIntoView({block: 'center'}); const b = c.getBoundingClientRect();"
        " return {x: b.left, y: b.top}; }",
        index,
    )


def token_point(box: dict, token: int, count: int) -> tuple[float, float]:
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    row, column = divmod(token, columns)
    return box["x"] + (column + 0.5) * 224 / columns, box["y"] + (row + 0.5) * 224 / rows


def test_type_click_a_token_click_a_prediction_hover_a_cell_and_step_a_site(lab, tmp_path):
    with chromium_page(1440, 900) as page:
        open_and_run(page, lab, "text.ipynb")
        page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
        box = page.locator(".widget-text").filter(has_text="text").locator("input").first
        wait_for(lambda: box.input_value() == "for item in items:", 90, "no text box")
        box.fill("import os")
        box.press("Enter")
        wait_for(lambda: state(lab)["text"] == "import os", 60, "Enter did not explain the text")
        first = state(lab)
        point = token_point(row_box(page, 0), 2, len("import os"))
        page.mouse.click(*point)

        def picked() -> dict | None:
            now = state(lab)
            # The top-5 follow: the tokens most likely after token 2, offered after the redraw.
            return now if now["tokens"] == [2] and now["top"] != first["top"] else None

        after = wait_for(picked, 60, "a token click did not explain what follows token 2")
        buttons = page.locator(".widget-toggle-buttons").filter(has_text="top-5").locator("button")
        wait_for(lambda: buttons.count() == 5, 30, "no top-5 buttons")
        buttons.nth(1).click()
        wait_for(
            lambda: state(lab)["target"] == after["top"][1], 60, "a prediction click did nothing"
        )
        masks = row_box(page, 1)
        page.mouse.move(masks["x"] + 60, masks["y"] + 100)
        readout = page.locator("code").filter(has_text="site unit")
        wait_for(lambda: readout.count() > 0, 30, "hovering a grid cell showed no read-out")
        assert page.locator("code").filter(has_text="forward ").count() > 0
        page.screenshot(path=str(tmp_path / "text.png"))
        page.mouse.click(masks["x"] + 300, masks["y"] + 100)
        page.keyboard.press("ArrowDown")
        wait_for(lambda: state(lab)["site"] == 1, 60, "the arrow key did not step the site")
        before = state(lab)["unit"]
        page.keyboard.press("ArrowRight")
        wait_for(
            lambda: state(lab)["target_kind"] == "unit" and state(lab)["unit"] != before,
            60,
            "the right arrow did not step the unit explained",
        )
        page.mouse.move(2, 2)
        box.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "controls.png"))
        assert_captions_and_controls_fit(page)


def test_markup_in_a_token_is_shown_as_text_and_never_run(escape_lab, tmp_path):
    with chromium_page(1440, 900) as page:
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        open_and_run(page, escape_lab, "escape.ipynb")
        buttons = page.locator(".widget-toggle-buttons").filter(has_text="top-5").locator("button")
        # A top-5 button that names the markup token: written out as text, not run.
        wait_for(
            lambda: buttons.filter(has_text=MARKUP).count() == 1,
            90,
            "the markup token should be a top-5 button's words",
        )
        box = wait_for(lambda: row_box(page, 0), 60, "the panels were not drawn")
        page.mouse.move(box["x"] + 100, box["y"] + 100)
        wait_for(
            lambda: page.locator("code").filter(has_text="token").count() > 0,
            30,
            "no read-out",
        )
        page.screenshot(path=str(tmp_path / "escape.png"))
        assert dialogs == []
        assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
        captions = page.evaluate(
            "() => [...document.querySelectorAll('.gbp-caption, .gbp-row-caption')]"
            ".map(e => e.textContent).join(' ')"
        )
        assert MARKUP in captions
