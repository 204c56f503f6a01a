"""The README's and the getting-started page's commands, run as written in a fresh copy of the
repository: the main job's line makes a virtual environment, installs the package (not
editable: what a wheel holds is what runs) and explains the cat; the installed copy has the
widgets' JavaScript and the shipped scene network; the page's notebook step adds JupyterLab
with the ``lab`` extra and opens it on the quickstart notebook; the Explorer opens there."""

from __future__ import annotations

import re
import secrets
import shlex
import urllib.request
from pathlib import Path

import pytest

from tests.jupyterlab import free_port, serving
from tests.test_wheel import SCRIPTS, copy_of_the_repository, run

# A fresh environment is installed: minutes.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def shell_lines(page: str, after: str) -> list[str]:
    """The lines of the first ``bash`` block after heading ``after`` in ``page``."""
    text = (ROOT / page).read_text().split(after, 1)[1]
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_the_main_job_and_the_notebook_step_run_as_written_on_a_fresh_clone(tmp_path):
    (main_job,) = shell_lines("README.md", "## Two commands")
    assert main_job == shell_lines("docs/getting-started.md", "## Two commands")[0]
    install, open_lab = shell_lines("docs/getting-started.md", "## In a notebook")
    assert install.startswith(".venv/bin/pip install") and ".[lab]" in install
    assert open_lab == ".venv/bin/jupyter lab notebooks/01_quickstart.ipynb"
    clone = copy_of_the_repository(tmp_path / "clone")
    printed = run("bash", "-c", main_job, cwd=clone)
    assert "explained: tiger cat (class 282" in printed
    assert (clone / "chelsea.png").stat().st_size > 10_000
    python = clone / ".venv" / "bin" / "python"
    check = (
        "import importlib.resources, gbp_widgets.widgets as w; "
        "from gbp_widgets.trust.scenes import WEIGHTS; "
        f"print(all((importlib.resources.files(w) / n).is_file() for n in {SCRIPTS!r}), "
        "WEIGHTS.is_file(), w.__file__)"
    )
    shown = run(python, "-c", check, cwd=tmp_path).split()
    assert shown[:2] == ["True", "True"]
    assert shown[2].startswith(str(clone / ".venv"))  # the installed copy, not the clone's

    run("bash", "-c", install, cwd=clone)
    port, token = free_port(), secrets.token_hex(16)
    headless = [
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}",
        "--allow-root",
    ]
    command = [str(clone / w) if w.startswith(".venv") else w for w in shlex.split(open_lab)]
    url = f"http://127.0.0.1:{port}/api/contents/?token={token}"
    with serving(command + headless, clone, url, "JupyterLab", seconds=180):
        # JupyterLab serves the folder of the notebook it was asked to open.
        listing = urllib.request.urlopen(url, timeout=30).read()
    assert b'"01_quickstart.ipynb"' in listing
    opened = run(
        python,
        "-W",
        "ignore",
        "-c",
        "from gbp_widgets import Explorer; e = Explorer(); print(e.classes[e.target])",
        cwd=clone,
    )
    assert opened.strip() == "tiger cat"
