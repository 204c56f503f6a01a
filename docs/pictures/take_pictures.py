"""The docs' pictures of the Explorer as a reader sees them: the README's, and one per kind
of input.

Runs ``Explorer()`` and then notebook 08 in JupyterLab on 127.0.0.1 in headless Chromium at
1440 x 900 with the file browser open, and saves the whole window with the first
(``explorer.png``) and the panel rows of each Explorer notebook 08 opens:

    python docs/pictures/take_pictures.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from tests.jupyterlab import (  # noqa: E402
    chromium_page,
    jupyterlab,
    open_and_run,
    wait_for,
    write_notebook,
)

NAMES = ("signal", "table", "volume", "segmentation")
# The visible panel rows of the n-th Explorer, captions included, in page pixels.
ROWS_BOX = """
n => {
  const outputs = [...document.querySelectorAll('.jp-OutputArea-output')]
    .filter(o => o.querySelector('canvas'));
  const canvases = [...outputs[n].querySelectorAll('canvas')]
    .filter(c => c.height === 224 && c.offsetParent !== null).slice(0, 2);
  if (canvases.length < 2) return null;
  canvases[0].scrollIntoView({block: 'center'});
  const rows = canvases.map(c => c.getBoundingClientRect());
  const left = Math.min(...rows.map(r => r.left)), right = Math.max(...rows.map(r => r.right));
  return {x: left - 4, y: rows[0].top - 30, width: right - left + 8,
          height: rows[1].bottom - rows[0].top + 34};
}
"""


# Drawn: the Explorer's first canvas holds a picture (not all one colour).
DRAWN = """
() => {
  const canvas = [...document.querySelectorAll('canvas')].find(c => c.height >= 224);
  if (!canvas) return false;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  return data.some(value => value !== data[0]);
}
"""


def without_prompt(page) -> None:
    """JupyterLab's news prompt would cover a corner of the pictures."""
    prompt = page.locator(".jp-toast-button").filter(has_text="No")
    if prompt.count():
        prompt.first.click()


def the_explorer() -> None:
    with tempfile.TemporaryDirectory() as folder, jupyterlab(Path(folder)) as lab:
        write_notebook(
            Path(folder) / "explorer.ipynb", ["from gbp_widgets import Explorer\nExplorer()"]
        )
        with chromium_page(1440, 900) as page:
            open_and_run(page, lab, "explorer.ipynb")
            page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
            wait_for(lambda: page.evaluate(DRAWN), 300, "the Explorer drew nothing")
            without_prompt(page)
            page.evaluate("() => document.querySelector('.jp-Cell').scrollIntoView()")
            time.sleep(1.0)
            page.screenshot(path=str(HERE / "explorer.png"))
            print("wrote", HERE / "explorer.png")


def main() -> None:
    the_explorer()
    with jupyterlab(ROOT) as lab, chromium_page(1440, 900) as page:
        open_and_run(page, lab, "notebooks/08_any_model.ipynb")
        page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
        wait_for(
            lambda: (
                page.evaluate(
                    "() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                    ".filter(o => o.querySelector('canvas')).length"
                )
                >= len(NAMES)
            ),
            600,
            "the notebook did not open its Explorers",
        )
        without_prompt(page)
        for index, name in enumerate(NAMES):
            box = wait_for(lambda index=index: page.evaluate(ROWS_BOX, index), 60, name)
            time.sleep(1.0)
            box = page.evaluate(ROWS_BOX, index)
            page.screenshot(path=str(HERE / f"explorer_{name}.png"), clip=box)
            print("wrote", HERE / f"explorer_{name}.png", box)


if __name__ == "__main__":
    main()
