"""The Explorer in a real browser: JupyterLab on 127.0.0.1, headless Chromium, canvas pixels.

Needs Debian's chromium (installed here when missing and we are root, as in
CI) and Python playwright, which drives it without downloading a browser.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PANELS = ("input", "attribution", "forward", "backward", "product")
PANEL = 224
GAP = 8

NOTEBOOK_CELLS = [
    "from gbp_widgets import Explorer\nexplorer = Explorer()\nexplorer",
    "import numpy as np\nnp.savez('panels.npz', **explorer.refresh())\n"
    "print('saved', explorer.site, explorer.target)",
]


def ensure_chromium() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        subprocess.run(
            command,
            check=True,
            capture_output=True,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_notebook(path: Path) -> None:
    cells = [
        {
            "cell_type": "code",
            "metadata": {},
            "source": source,
            "outputs": [],
            "execution_count": None,
        }
        for source in NOTEBOOK_CELLS
    ]
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 with a temporary root, stopped afterwards."""
    pytest.importorskip("jupyterlab")
    pytest.importorskip("playwright")
    ensure_chromium()
    root = tmp_path_factory.mktemp("lab")
    settings = root / ".settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Full windowing may drop canvas outputs that scroll out of view; defer keeps them.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "defer"}))
    write_notebook(root / "explorer.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={root / '.settings'}",
            f"--LabApp.workspaces_dir={root / '.workspaces'}",
            "--LabApp.expose_app_in_browser=True",
            "--allow-root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
        env={**os.environ, "JUPYTER_PLATFORM_DIRS": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2),
            60,
            "JupyterLab did not start",
        )
        yield {"url": url, "token": token, "root": root}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def wait_for(probe, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except Exception as err:  # noqa: BLE001 - retried until the deadline
            last = err
        time.sleep(0.5)
    raise AssertionError(f"{what} within {seconds} s (last error: {last})")


READ_CANVAS = """
() => {
  const canvases = [...document.querySelectorAll('canvas')].filter(c => c.width === %d);
  if (!canvases.length) return null;
  const c = canvases[0];
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let text = '';
  for (let i = 0; i < data.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
  }
  return [c.width, c.height, btoa(text)];
}
"""


def canvas_pixels(page) -> np.ndarray | None:
    width = len(PANELS) * PANEL + (len(PANELS) - 1) * GAP
    found = page.evaluate(READ_CANVAS % width)
    if not found:
        return None
    width, height, data = found
    return np.frombuffer(base64.b64decode(data), np.uint8).reshape(height, width, 4)


def saved_panels(lab, previous_mtime: float = 0.0) -> dict[str, np.ndarray]:
    path = lab["root"] / "panels.npz"
    wait_for(
        lambda: path.exists() and path.stat().st_mtime > previous_mtime,
        60,
        "the notebook did not save its panels",
    )
    time.sleep(0.3)
    with np.load(path) as saved:
        return {name: saved[name] for name in saved.files}


def canvas_matches(page, panels) -> bool:
    pixels = canvas_pixels(page)
    if pixels is None:
        return False
    return all(
        np.array_equal(pixels[:, i * (PANEL + GAP) : i * (PANEL + GAP) + PANEL], panels[name])
        for i, name in enumerate(PANELS)
    )


def run_save_cell(page, lab) -> dict[str, np.ndarray]:
    path = lab["root"] / "panels.npz"
    before = path.stat().st_mtime
    page.locator(".jp-Cell").nth(1).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    return saved_panels(lab, before)


def test_explorer_draws_its_panels_and_follows_the_controls(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1400})
            page.goto(f"{lab['url']}/lab/tree/explorer.ipynb?token={lab['token']}")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            wait_for(
                lambda: page.evaluate(
                    "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"
                    "?.status === 'idle'"
                ),
                90,
                "the kernel did not start",
            )
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
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
        finally:
            browser.close()
