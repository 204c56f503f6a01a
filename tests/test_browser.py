"""The Explorer in a real browser: JupyterLab on 127.0.0.1, headless Chromium, canvas pixels."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.jupyterlab import (
    chromium_page,
    load_npz,
    modified,
    open_and_run,
    read_canvases,
    read_when_newer,
    rerun_cell,
    served_notebook,
    wait_for,
)

ROWS = (("input", "attribution", "activation"), ("forward", "backward", "product"))
PANEL = 224
GAP = 8
ROW_WIDTH = 3 * PANEL + 2 * GAP

NOTEBOOK_CELLS = [
    "from gbp_widgets import Explorer\nexplorer = Explorer()\nexplorer",
    "import numpy as np\nnp.savez('panels.npz', **explorer.refresh())\n"
    "print('saved', explorer.site, explorer.target)",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 with a temporary root, stopped afterwards."""
    yield from served_notebook(tmp_path_factory, "explorer.ipynb", NOTEBOOK_CELLS)


def canvases(page) -> list[np.ndarray]:
    """Every canvas of a panel row's width, as RGBA arrays (crosshair layers included)."""
    return read_canvases(page, f"c.width === {ROW_WIDTH}")


def saved_panels(lab, after: float = 0.0) -> dict[str, np.ndarray]:
    return read_when_newer(
        lab["root"] / "panels.npz", after, load_npz, "the notebook did not save its panels"
    )


def canvas_matches(page, panels) -> bool:
    """Each row's canvas shows ``explorer.panels`` pixel for pixel."""
    drawn = canvases(page)

    def shows(pixels, row) -> bool:
        return all(
            np.array_equal(pixels[:, i * (PANEL + GAP) : i * (PANEL + GAP) + PANEL], panels[name])
            for i, name in enumerate(row)
        )

    return all(any(shows(pixels, row) for pixels in drawn) for row in ROWS)


def run_save_cell(page, lab) -> dict[str, np.ndarray]:
    before = modified(lab["root"] / "panels.npz")
    rerun_cell(page, 1)
    return saved_panels(lab, before)


def status_text(page) -> str:
    return page.locator(".jp-OutputArea-output").first.inner_text()


def test_explorer_draws_its_panels_and_follows_the_controls(lab):
    with chromium_page(1600, 1400) as page:
        open_and_run(page, lab, "explorer.ipynb")
        panels = saved_panels(lab)
        wait_for(
            lambda: canvas_matches(page, panels),
            60,
            "the canvas did not show explorer.panels pixel for pixel",
        )

        site_slider = page.locator(".widget-hslider").filter(has_text="site")
        handle = site_slider.locator(".noUi-handle").first
        box = site_slider.locator(".noUi-base").bounding_box()
        handle.hover()
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2, steps=8)
        page.mouse.up()
        moved = run_save_cell(page, lab)
        assert not np.array_equal(moved["forward"], panels["forward"])
        assert np.array_equal(moved["attribution"], panels["attribution"])
        wait_for(
            lambda: canvas_matches(page, moved), 30, "the canvas did not follow the site slider"
        )

        page.locator(".widget-toggle-buttons button").filter(has_text="%").nth(1).click()
        retargeted = run_save_cell(page, lab)
        assert not np.array_equal(retargeted["attribution"], moved["attribution"])
        wait_for(
            lambda: canvas_matches(page, retargeted),
            30,
            "the canvas did not follow the new target class",
        )


PRODUCT_BOX = """
() => {
  const canvas = [...document.querySelectorAll('canvas')].filter(c => c.width === %d)
    .map(c => [c, c.getBoundingClientRect()]).sort((a, b) => b[1].top - a[1].top)[0];
  const [element, box] = canvas;
  const output = element.closest('.jp-OutputArea-output').getBoundingClientRect();
  const scrollers = [...element.closest('.jp-OutputArea-output').querySelectorAll('*')]
    .filter(e => e.scrollWidth > e.clientWidth + 1
      && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX));
  return {
    left: box.left + 2 * (%d + %d), right: box.left + 3 * %d + 2 * %d, top: box.top,
    outputLeft: output.left, outputRight: output.right, viewport: window.innerWidth,
    sideways: scrollers.map(e => `${e.tagName}.${e.className} ${e.scrollWidth}>${e.clientWidth}`),
    fileBrowser: !!document.querySelector('.jp-FileBrowser:not(.lm-mod-hidden)'),
  };
}
"""

# Each row of panels: its caption and the boxes of its panels' captions, with whether any
# text is cut. Each control row: the tops of its visible parts (a row of buttons counts
# each button), which differ where it wraps.
LAYOUT = """
() => {
  const shown = e => e.offsetParent !== null;
  const cut = d => d.scrollWidth > d.clientWidth + 1 || d.scrollHeight > d.clientHeight + 1;
  const captionRows = [...document.querySelectorAll('.gbp-header')].filter(shown)
    .map(header => [...header.querySelectorAll('.gbp-caption, .gbp-row-caption')].map(d => {
      const box = d.getBoundingClientRect();
      return {left: box.left, right: box.right, cut: cut(d), title: d.title,
              text: d.textContent, row: d.classList.contains('gbp-row-caption')};
    })).filter(row => row.length);
  const rowParts = row => [...row.children].filter(shown).flatMap(part =>
    part.classList.contains('widget-toggle-buttons')
      ? [...part.querySelectorAll('button')].filter(shown) : [part]);
  const controlRows = [...document.querySelectorAll('.jp-OutputArea-output .widget-hbox')]
    .filter(shown).concat([...document.querySelectorAll(
      '.jp-OutputArea-output .widget-vbox > .widget-toggle-buttons')].filter(shown))
    .map(row => (row.classList.contains('widget-toggle-buttons')
      ? [...row.querySelectorAll('button')].filter(shown) : rowParts(row))
      .map(part => Math.round(part.getBoundingClientRect().top)))
    .filter(tops => tops.length);
  return {captionRows, controlRows};
}
"""


# The hover read-out's fields, each with whether it lies whole inside the output area and
# the window (after the read-out is scrolled into view).
READOUT = """
() => {
  const fields = [...document.querySelectorAll('.jp-OutputArea-output code')]
    .filter(c => c.textContent.startsWith('x = '));
  if (!fields.length) return [];
  const box = fields[0].closest('.widget-html');
  box.scrollIntoView({block: 'center'});
  const area = box.closest('.jp-OutputArea-output').getBoundingClientRect();
  return [...box.querySelectorAll('code')].map(c => {
    const r = c.getBoundingClientRect();
    const whole = r.width > 0 && r.left >= area.left && r.right <= area.right
      && r.top >= 0 && r.bottom <= window.innerHeight
      && c.scrollWidth <= c.clientWidth + 1;
    return {text: c.textContent, whole};
  });
}
"""


def assert_captions_and_controls_fit(page) -> None:
    """Every caption is whole (none cut, none running into its neighbour), each row of
    panels names its site once, and no row of controls wraps onto a second line."""
    layout = page.evaluate(LAYOUT)
    assert len(layout["captionRows"]) >= 2, layout
    for row in layout["captionRows"]:
        panels = [caption for caption in row if not caption["row"]]
        for left, right in zip(panels, panels[1:], strict=False):
            assert left["right"] <= right["left"], (left, right)
        for caption in row:
            assert not caption["cut"], caption
        named = [c for c in row if "ReLU site" in c["text"] or "gated site" in c["text"]]
        assert len(named) == 1, row
    assert len(layout["controlRows"]) >= 5, layout
    for tops in layout["controlRows"]:
        # Parts of one line differ by a few pixels (a dropdown sits lower than a button).
        assert max(tops) - min(tops) < 10, f"a row of controls wraps: tops {tops}"


def test_at_laptop_size_with_the_file_browser_open_every_panel_is_whole(lab, tmp_path):
    """1440 x 900, JupyterLab's file browser open: the product panel lies inside the output
    area, with no sideways scroll; bad input typed into the controls is answered there."""
    with chromium_page(1440, 900) as page:
        # The first test's panels are still on disk: wait for this page's own.
        started = time.time()
        open_and_run(page, lab, "explorer.ipynb")
        page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
        panels = saved_panels(lab, started)
        wait_for(lambda: canvas_matches(page, panels), 60, "the canvas did not draw")
        box = page.evaluate(PRODUCT_BOX % (ROW_WIDTH, PANEL, GAP, PANEL, GAP))
        page.screenshot(path=str(tmp_path / "laptop.png"))
        assert box["fileBrowser"], "the file browser should be open for this check"
        assert box["outputLeft"] <= box["left"] and box["right"] <= box["outputRight"], box
        assert box["right"] <= box["viewport"], box
        assert box["sideways"] == [], "no element of the explorer scrolls sideways"
        assert_captions_and_controls_fit(page)
        # A mask pixel hovered: every number of the read-out is on screen, whole.
        page.evaluate(
            "() => [...document.querySelectorAll('canvas')]"
            f".filter(c => c.width === {ROW_WIDTH} && c.offsetParent).pop()"
            ".scrollIntoView({block: 'center'})"
        )
        box = page.evaluate(PRODUCT_BOX % (ROW_WIDTH, PANEL, GAP, PANEL, GAP))
        page.mouse.move(box["left"] + 100, box["top"] + 100)
        wait_for(lambda: page.evaluate(READOUT), 30, "hovering a mask pixel showed no read-out")
        fields = page.evaluate(READOUT)
        page.screenshot(path=str(tmp_path / "readout.png"))
        for start in ("x = ", "output = ", "g = ", "forward ", "site unit"):
            assert any(f["text"].startswith(start) for f in fields), (start, fields)
        assert all(field["whole"] for field in fields), fields
        page.mouse.move(2, 2)
        # The colour keys under the signed map and the site's output are on the page.
        for words in ("0 (each of R, G, B)", "peak", "share of channels on"):
            assert page.get_by_text(words, exact=True).first.is_visible(), words

        class_box = page.locator(".widget-text").filter(has_text="class #").locator("input")
        before = class_box.input_value()
        class_box.fill("1500")
        class_box.press("Enter")
        wait_for(
            lambda: "class 1500 is out of range" in status_text(page),
            30,
            "typing 1500 in the class box got no answer",
        )
        wait_for(
            lambda: class_box.input_value() == before,
            30,
            "the class box should show the class explained again",
        )

        name_box = page.get_by_placeholder("any class by name")
        name_box.fill("tiger kat")
        name_box.press("Enter")
        wait_for(
            lambda: "did you mean 'tiger cat'" in status_text(page),
            30,
            "an unknown class name got no answer",
        )

        junk = tmp_path / "junk.png"
        junk.write_bytes(b"this is not a picture")
        with page.expect_file_chooser() as chooser:
            page.locator("button").filter(has_text="upload").first.click()
        chooser.value.set_files(str(junk))
        wait_for(
            lambda: "could not be shown" in status_text(page), 30, "a bad upload got no answer"
        )

        page.locator("button").filter(has_text="Guided Grad-CAM").first.click()
        layer_menu = page.locator(".widget-dropdown").filter(has_text="CAM layer").locator("select")
        layer_menu.select_option("_blocks")
        wait_for(
            lambda: "did not return a (N, C, H, W) tensor" in status_text(page),
            60,
            "a Grad-CAM layer without a feature map got no answer",
        )
        wait_for(
            lambda: layer_menu.input_value() == "auto", 30, "the layer menu should show 'auto'"
        )
