"""Pictures ahead in a real browser: with the kernel busy, a click on a display or rule
button, or a key on the item slider, still changes the canvas, and to exactly the picture
the kernel draws once it is free.

The kernel is held in a cell that waits for a file the test writes, so nothing the kernel
sends can explain the change: only the browser's own copy of the pictures ahead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gbp_widgets.explore import MAP_PANELS, MASK_PANELS
from tests.jupyterlab import (
    GAP,
    PANEL,
    SIGNAL_EXPLORER_CELL,
    chromium_page,
    load_npz,
    modified,
    open_and_run,
    read_canvases,
    read_when_newer,
    rerun_cell,
    rows_shown,
    served_notebook,
    wait_for,
)

ATTRIBUTION = MAP_PANELS.index("attribution")

CELLS = [
    SIGNAL_EXPLORER_CELL,
    "import pathlib, time\nimport numpy as np\nnp.savez('before.npz', **sig.refresh())",
    # Every picture ahead sent (counted for the first row); then, once the test asks, the
    # kernel is busy until "go".
    "row = sig.rows[0].canvas\nsent = []\n"
    "row.ahead = lambda *args, send=row.ahead: (sent.append(args), send(*args))\n"
    "sig.draw_ahead()\ndel row.ahead\n"
    "if pathlib.Path('hold').exists():\n"
    "    pathlib.Path('busy').write_text(f'{sig.display} {len(sent)}')\n"
    "    while not pathlib.Path('go').exists():\n"
    "        time.sleep(0.05)",
    "np.savez('after.npz', **sig.refresh())",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from served_notebook(tmp_path_factory, "ahead.ipynb", CELLS)


def _attribution(page) -> np.ndarray | None:
    """The attribution panel of the first row on the page, as shown."""
    rows = read_canvases(page, f"c.height === {PANEL} && c.width > {PANEL}")
    if not rows:
        return None
    left = ATTRIBUTION * (PANEL + GAP)
    return rows[0][:, left : left + PANEL].copy()


def _press(page, slider: str, key: str) -> None:
    """A key on the handle of the slider labelled ``slider``, as a person presses it."""
    handle = page.locator(".widget-hslider").filter(has_text=slider).locator(".noUi-handle")
    handle.first.focus()
    handle.first.press(key)


# Each changes the attribution: a new display (re-rendered), a new rule (a backward pass
# ahead), the next item (a forward and a backward pass ahead).
CHANGES = {
    "display": lambda page: page.get_by_role("button", name="saliency", exact=True).click(),
    "rule": lambda page: page.get_by_role("button", name="Gradient", exact=True).click(),
    "item": lambda page: _press(page, "item", "ArrowRight"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_is_drawn_while_the_kernel_is_busy(lab, change):
    root = lab["root"]
    for left in ("hold", "busy", "go"):
        (root / left).unlink(missing_ok=True)
    try:
        _change_while_busy(lab, root, CHANGES[change])
    finally:
        # A failure above must not leave the kernel waiting.
        (root / "go").write_text("go")


def _change_while_busy(lab, root: Path, change) -> None:
    with chromium_page(1600, 1400) as page:
        open_and_run(page, lab, "ahead.ipynb")
        before = read_when_newer(root / "before.npz", 0.0, load_npz, "nothing saved")
        wait_for(
            lambda: rows_shown(page, before, (MAP_PANELS, MASK_PANELS)),
            60,
            "the canvases did not show the first panels",
        )
        first_save = read_when_newer(root / "after.npz", 0.0, modified, "the last cell did not run")
        old = _attribution(page)
        (root / "hold").write_text("hold")
        rerun_cell(page, 2)
        shown, sent = read_when_newer(
            root / "busy", 0.0, lambda p: p.read_text().split(), "the kernel did not start waiting"
        )
        assert shown == "gradient" and int(sent) > 0
        wait_for(
            lambda: (
                page.evaluate(
                    "() => document.querySelector('canvas.gbp-picture-canvas').dataset.aheadReady"
                )
                == sent
            ),
            60,
            "the pictures ahead did not reach the browser",
        )
        change(page)
        early = wait_for(
            lambda: (
                (a,)
                if (a := _attribution(page)) is not None and not np.array_equal(a, old)
                else None
            ),
            60,
            "the canvas did not change while the kernel was busy",
        )[0]
        assert modified(root / "after.npz") == first_save, "the kernel was not busy"
        (root / "go").write_text("go")
        rerun_cell(page, 3)
        after = read_when_newer(root / "after.npz", first_save, load_npz, "nothing saved")
        np.testing.assert_array_equal(early, after["attribution"])
        assert not np.array_equal(after["attribution"], before["attribution"])
        wait_for(
            lambda: rows_shown(page, after, (MAP_PANELS, MASK_PANELS)),
            60,
            "the kernel's redraw is not what the canvas shows",
        )
