"""The activations menu in a real browser: JupyterLab on 127.0.0.1, headless Chromium at
1440 x 900 with the file browser open. Choosing "+ gates (ours)" turns a GELU model's calls
into sites whose soft masks are keyed "gate s(x)" and "s(x) 1[g>0]"; at the small panel size
of 160 pixels every caption, control and key word stays whole."""

from __future__ import annotations

import pytest

from tests.jupyterlab import chromium_page, open_and_run, served_notebook, wait_for
from tests.test_browser import assert_captions_and_controls_fit

CELLS = [
    "import torch\nfrom torch import nn\nfrom gbp_widgets import Explorer\n"
    "torch.manual_seed(0)\n"
    "model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GELU(),\n"
    "    nn.Conv2d(8, 8, 3, padding=1), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),\n"
    "    nn.Linear(8, 4)).eval()\n"
    "explorer = Explorer(model=model, image='chelsea', panel_size=160)\nexplorer",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from served_notebook(tmp_path_factory, "gated.ipynb", CELLS)


# Each word of every colour key on the page, with whether it is shown whole.
KEY_WORDS = """
() => [...document.querySelectorAll('.gbp-key span')].filter(s => s.offsetParent !== null)
  .map(s => ({text: s.textContent, whole: s.scrollWidth <= s.clientWidth + 1}))
"""


def visible(page, text: str) -> bool:
    found = page.get_by_text(text, exact=True)
    return found.count() > 0 and found.first.is_visible()


def test_gates_chosen_in_the_menu_show_soft_masks_with_their_key(lab, tmp_path):
    with chromium_page(1440, 900) as page:
        open_and_run(page, lab, "gated.ipynb")
        page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
        menu = page.locator(".widget-dropdown").filter(has_text="activations").locator("select")
        wait_for(lambda: menu.count() == 1 and menu.is_visible(), 90, "no activations menu")
        wait_for(
            lambda: "activations='gated' makes GELU" in page.content(),
            60,
            "without gates the status line should name activations='gated'",
        )
        menu.select_option(label="+ gates (ours)")
        wait_for(
            lambda: "masks at gated site 1#1 (gelu), all channels" in page.content(),
            90,
            "choosing gates in the menu did not show the GELU's site",
        )
        wait_for(
            lambda: visible(page, "gate s(x), mean of channels"), 30, "no gate key on the page"
        )
        assert visible(page, "forward: gate s(x)")
        product_key = page.get_by_text("s(x) 1[g>0], mean of channels", exact=True).first
        product_key.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "gated.png"))
        assert_captions_and_controls_fit(page)
        words = page.evaluate(KEY_WORDS)
        assert "s(x) 1[g>0], mean of channels" in {w["text"] for w in words}, words
        assert [w["text"] for w in words if not w["whole"]] == []
        menu.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "menu.png"))
        assert menu.input_value() == "+ gates (ours)"
