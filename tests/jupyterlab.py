"""JupyterLab on 127.0.0.1 driven by headless Chromium: shared by the browser tests and
``benchmarks/explorer_browser.py``.

Needs Debian's chromium (installed here when missing and we are root, as in CI) and
Python playwright, which drives it without downloading a browser.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class NoChromium(RuntimeError):
    """Chromium is missing and cannot be installed here."""


def ensure_chromium() -> str:
    """The path of Debian's chromium, installed with apt-get when missing and root."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise NoChromium("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
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


def write_notebook(path: Path, sources: list[str]) -> None:
    """A notebook of code cells with these sources and no outputs."""
    cells = [
        {"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
        for s in sources
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4}
    path.write_text(json.dumps({**notebook, "nbformat_minor": 5}))


def wait_for(probe, seconds: float, what: str, every: float = 0.5):
    """Call ``probe`` until it returns something true; ``AssertionError`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except Exception as err:  # noqa: BLE001 - retried until the deadline
            last = err
        time.sleep(every)
    raise AssertionError(f"{what} within {seconds} s (last error: {last})")


def read_when_newer(path: Path, after: float, read, what: str, seconds: float = 90):
    """``read(path)`` once ``path`` was written after ``after`` (a modification time) and
    reads whole: a file the kernel is still writing fails to read and is tried again."""

    def probe():
        if path.exists() and path.stat().st_mtime > after:
            return (read(path),)
        return None

    return wait_for(probe, seconds, what)[0]


def load_json(path: Path) -> dict:
    return json.loads(path.read_text())


@dataclass(frozen=True)
class SavedByCell:
    """Files a notebook cell writes under ``root``: ``pictures`` (read with ``load``), then
    ``state`` (JSON) last, so once the state reads whole the pictures are there too. Cell
    ``cell`` writes them again when it is re-run."""

    root: Path
    cell: int
    pictures: str
    state: str
    load: Callable[[Path], object]

    def read(self, after: float = 0.0) -> tuple[object, dict]:
        """The pictures and the state, once the state was written after ``after``."""
        state = read_when_newer(self.root / self.state, after, load_json, "nothing saved")
        return self.load(self.root / self.pictures), state

    def rerun(self, page) -> tuple[object, dict]:
        """Re-run the cell in ``page`` and read what it writes."""
        before = modified(self.root / self.state)
        rerun_cell(page, self.cell)
        return self.read(before)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as saved:
        return {name: saved[name] for name in saved.files}


def modified(path: Path) -> float:
    """``path``'s modification time, 0 where it does not exist yet."""
    return path.stat().st_mtime if path.exists() else 0.0


def rerun_cell(page, index: int) -> None:
    """Run cell ``index`` of the open notebook again, by keyboard, as a person does."""
    page.locator(".jp-Cell").nth(index).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")


@contextmanager
def jupyterlab(root: Path) -> Iterator[dict]:
    """A JupyterLab server on 127.0.0.1 serving ``root``, stopped on leaving.

    Yields ``{"url", "token", "root"}``. Notebook windowing is "defer": "full" may drop
    canvas outputs scrolled out of view. Autosave is off. JupyterLab's settings and
    workspaces live in a temporary folder removed on leaving, never in ``root`` (which may
    be the repository).
    """
    with tempfile.TemporaryDirectory(prefix="gbp-lab-") as folder:
        user = Path(folder)
        settings = user / "settings" / "@jupyterlab" / "notebook-extension"
        settings.mkdir(parents=True)
        (settings / "tracker.jupyterlab-settings").write_text(
            json.dumps({"windowingMode": "defer"})
        )
        # No autosave: whether a page that opens the notebook later finds the outputs of an
        # earlier page (and restores their widgets) must not depend on how slow the machine is.
        documents = user / "settings" / "@jupyterlab" / "docmanager-extension"
        documents.mkdir(parents=True)
        (documents / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
        port, token = free_port(), secrets.token_hex(16)
        command = [
            "jupyter",
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={user / 'settings'}",
            f"--LabApp.workspaces_dir={user / 'workspaces'}",
            "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
            "--allow-root",
        ]
        url = f"http://127.0.0.1:{port}"
        probe = f"{url}/api/status?token={token}"
        with serving([sys.executable, "-m", *command], root, probe, "JupyterLab"):
            yield {"url": url, "token": token, "root": root}


@contextmanager
def voila(root: Path) -> Iterator[dict]:
    """Voila on 127.0.0.1 serving the notebooks in ``root`` at ``/voila/render/NAME``, as
    Binder's ``urlpath=voila/render/...`` does, stopped on leaving. Yields ``{"url", "root"}``."""
    port = free_port()
    command = [
        "voila",
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
        "--token=",
        str(root),
    ]
    url = f"http://127.0.0.1:{port}"
    with serving([sys.executable, "-m", *command], root, f"{url}/", "Voila"):
        yield {"url": url, "root": root}


@contextmanager
def serving(
    command: list[str], root: Path, probe: str, name: str, seconds: float = 60
) -> Iterator[None]:
    """Run the server ``command`` (a full command line) in ``root`` until ``probe``
    answers, within ``seconds``, and end it, by its process id, on leaving."""
    server = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
        env={**os.environ, "JUPYTER_PLATFORM_DIRS": "1"},
    )
    try:
        wait_for(lambda: urllib.request.urlopen(probe, timeout=2), seconds, f"{name} did not start")
        yield
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


@contextmanager
def chromium_page(width: int, height: int, flags: tuple[str, ...] = ()) -> Iterator:
    """A page of headless Chromium with a ``width`` x ``height`` viewport, closed on leaving;
    ``flags``: Chromium's own, beside ours (a fake camera, say).

    Errors the page's scripts left uncaught are added to the report of a test that fails:
    a blank canvas is often a script that stopped. They do not fail a test by themselves,
    as the front ends raise some of their own under load that do no harm.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=ensure_chromium(), args=[*CHROMIUM_FLAGS, *flags], headless=True
        )
        errors: list[str] = []
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("pageerror", lambda error: errors.append(str(error)))
            try:
                yield page
            except BaseException as failure:
                if errors:
                    failure.add_note("uncaught in the page: " + "; ".join(errors))
                raise
        finally:
            browser.close()


def open_and_run(page, lab: dict, notebook: str, front_end: str = "lab/tree") -> None:
    """Open ``notebook`` in JupyterLab (or in Notebook 7: ``front_end="notebooks"``), wait
    for its kernel, and run all cells."""
    page.goto(f"{lab['url']}/{front_end}/{notebook}?token={lab['token']}")
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


def skip_without(server: str) -> None:
    """Skip the calling test where ``server`` (a module), playwright or Chromium is missing."""
    import pytest

    pytest.importorskip(server)
    pytest.importorskip("playwright")
    try:
        ensure_chromium()
    except NoChromium as err:
        pytest.skip(str(err))


def served_notebook(tmp_path_factory, name: str, cells: list[str]) -> Iterator[dict]:
    """For a module fixture: JupyterLab serving one notebook ``name`` of ``cells`` from a
    temporary root (``yield from`` it); skips where there is no browser to drive."""
    skip_without("jupyterlab")
    root = tmp_path_factory.mktemp("lab")
    write_notebook(root / name, cells)
    with jupyterlab(root) as server:
        yield server


READ_CANVASES = """
() => [...document.querySelectorAll('canvas')].filter(c => WHICH).map(c => {
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let text = '';
  for (let i = 0; i < data.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
  }
  return [c.width, c.height, btoa(text)];
})
"""


def read_canvases(page, which: str) -> list[np.ndarray]:
    """The pixels of every canvas for which the JavaScript test ``which`` (on ``c``) holds,
    as ``(height, width, 4)`` RGBA arrays, its layers composited as shown."""
    import base64

    return [
        np.frombuffer(base64.b64decode(data), np.uint8).reshape(height, width, 4)
        for width, height, data in page.evaluate(READ_CANVASES.replace("WHICH", which))
    ]


PANEL, GAP = 224, 8

# A notebook cell that shows ``sig``: an Explorer on the pulse network (tests/kinds.py),
# three signals of 60 samples.
SIGNAL_EXPLORER_CELL = (
    f"import sys\nsys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
    "import torch\nfrom gbp_widgets import Explorer\n"
    "from tests.kinds import PulseNet, built\n"
    "torch.manual_seed(0)\n"
    "sig = Explorer(model=built(PulseNet(2)), inputs=torch.randn(3, 2, 60), site=1)\nsig"
)


def rows_shown(page, panels: dict[str, np.ndarray], rows, prefix: str = "") -> bool:
    """Each row of panel names in ``rows`` is on some canvas of the page, pixel for pixel,
    the panel ``name`` being ``panels[prefix + name]`` (224 x 224, 8 px apart)."""
    drawn = read_canvases(page, f"c.height === {PANEL} && c.width > {PANEL}")

    def on(pixels: np.ndarray, row) -> bool:
        return pixels.shape[1] == len(row) * (PANEL + GAP) - GAP and all(
            np.array_equal(
                pixels[:, i * (PANEL + GAP) : i * (PANEL + GAP) + PANEL], panels[prefix + name]
            )
            for i, name in enumerate(row)
        )

    return all(any(on(pixels, row) for pixels in drawn) for row in rows)


def panel_saver(name: str) -> str:
    """Code for a notebook with one Explorer, where no cell can be re-run (Voila) or none
    should be: it writes the Explorer's panels to ``NAME.npz`` now and after every rule
    change, with the rule, for :func:`saved_for_rule`."""
    return f"""import gc, os
import numpy as np
from gbp_widgets import Explorer

(_shown,) = [o for o in gc.get_objects() if isinstance(o, Explorer)]


def _save(change=None):
    np.savez("{name}.tmp.npz", rule=np.array(_shown.rule), **_shown.refresh())
    os.replace("{name}.tmp.npz", "{name}.npz")


_shown.observe(_save, "rule")
_save()
"""


def saved_for_rule(root: Path, name: str, rule: str) -> dict[str, np.ndarray]:
    """The panels :func:`panel_saver`'s code last wrote in ``root``, once its Explorer
    shows ``rule``."""

    def load():
        panels = load_npz(root / f"{name}.npz")
        return panels if str(panels["rule"]) == rule else None

    return wait_for(load, 180, f"{name}'s kernel did not save panels for rule {rule!r}")
