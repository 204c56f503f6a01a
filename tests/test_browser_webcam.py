"""The webcam in a real browser: JupyterLab on 127.0.0.1 (a secure origin), headless
Chromium at 1440 x 900 with the file browser open, its fake camera looping a clip of two
bundled photos. The map follows the frames (the top class changes between the photos),
freeze holds a frame whose canvas is the kernel's panels pixel for pixel, switching off
releases the camera, and a refused permission is said in the status line."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gbp_widgets import sample_image
from tests.fake_camera import write_clip
from tests.jupyterlab import (
    chromium_page,
    load_npz,
    open_and_run,
    read_when_newer,
    rerun_cell,
    rows_shown,
    served_notebook,
    wait_for,
)
from tests.test_browser import assert_captions_and_controls_fit

CELLS = [
    "from gbp_widgets import Explorer\nexplorer = Explorer()\n"
    "def _seen(change):\n"
    "    with open('targets.txt', 'a') as seen:\n"
    "        seen.write(f'{change.new}\\n')\n"
    "explorer.observe(_seen, 'target')\nexplorer",
    "import numpy as np\nnp.savez('shown.tmp.npz', **explorer.refresh())\n"
    "import os\nos.replace('shown.tmp.npz', 'shown.npz')",
]
ROWS = (("input", "attribution", "activation"), ("forward", "backward", "product"))
BAR = ".gbp-camera-readout"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from served_notebook(tmp_path_factory, "webcam.ipynb", CELLS)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """Two seconds of the cat, two of the coffee, 320 x 240, looped by Chromium."""
    pictures = [
        np.asarray(sample_image(name).convert("RGB").resize((320, 240)), dtype=np.uint8)
        for name in ("chelsea", "coffee")
    ]
    return write_clip(tmp_path_factory.mktemp("camera") / "clip.y4m", pictures, 20, fps=10)


def camera_flags(clip) -> tuple[str, ...]:
    return (
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    )


def toggle(page, attribute: str):
    return page.locator(f"button[data-attribute={attribute}]")


def camera_data(page, key: str) -> str | None:
    """What the webcam bar's element says of its camera: ``open``, ``state``, ``frames``."""
    return page.evaluate(f"() => document.querySelector('.gbp-camera')?.dataset?.{key}")


def seen_targets(root) -> list[int]:
    path = root / "targets.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_the_map_follows_the_camera_and_freeze_holds_a_frame(lab, clip, tmp_path):
    with chromium_page(1440, 900, camera_flags(clip)) as page:
        open_and_run(page, lab, "webcam.ipynb")
        page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
        wait_for(lambda: toggle(page, "active").count() == 1, 90, "no webcam toggle")
        before = len(seen_targets(lab["root"]))
        toggle(page, "active").click()
        wait_for(lambda: camera_data(page, "open") == "true", 60, "the camera did not open")
        # The cat and the coffee have different top classes: both show up in turn.
        wait_for(
            lambda: len(set(seen_targets(lab["root"])[before:])) >= 2,
            180,
            "the class explained did not follow the frames",
        )
        wait_for(lambda: page.locator(BAR).inner_text().endswith("frames/s"), 30, "no frame rate")
        page.screenshot(path=str(tmp_path / "webcam.png"))
        assert_captions_and_controls_fit(page)

        # The f key on a focused canvas freezes the frame.
        page.evaluate("() => document.querySelector('canvas.gbp-picture-canvas').focus()")
        page.keyboard.press("f")
        wait_for(
            lambda: "mod-active" in (toggle(page, "paused").get_attribute("class") or ""),
            60,
            "f did not freeze the frame",
        )
        started = time.time()
        rerun_cell(page, 1)
        panels = read_when_newer(lab["root"] / "shown.npz", started, load_npz, "no panels")
        wait_for(lambda: rows_shown(page, panels, ROWS), 60, "the canvas is not the frame held")
        frames = camera_data(page, "frames")
        started = time.time()
        rerun_cell(page, 1)
        again = read_when_newer(lab["root"] / "shown.npz", started, load_npz, "no panels")
        assert all(np.array_equal(again[name], panels[name]) for name in panels)
        assert camera_data(page, "frames") == frames, "frames were drawn while frozen"
        assert rows_shown(page, panels, ROWS)

        # Off: the camera is released.
        toggle(page, "active").click()
        wait_for(lambda: camera_data(page, "open") == "false", 60, "the camera stayed open")
        wait_for(lambda: camera_data(page, "state") == "off", 30, "the camera is not off")


def test_a_refused_camera_is_said_and_the_explorer_goes_on(lab, clip):
    flags = ("--use-fake-device-for-media-stream", "--deny-permission-prompts")
    with chromium_page(1440, 900, flags) as page:
        open_and_run(page, lab, "webcam.ipynb")
        wait_for(lambda: toggle(page, "active").count() == 1, 90, "no webcam toggle")
        toggle(page, "active").click()
        wait_for(
            lambda: "the browser was refused the camera" in page.content(),
            60,
            "a refused camera was not said in the status line",
        )
        wait_for(
            lambda: "mod-active" not in (toggle(page, "active").get_attribute("class") or ""),
            30,
            "the webcam toggle stayed on",
        )
        assert camera_data(page, "open") == "false"
