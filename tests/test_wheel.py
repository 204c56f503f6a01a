"""A wheel that works alone: ``python -m build`` makes a wheel and an sdist from a copy of the
repository, and the wheel, installed into a fresh virtual environment with the pinned torch,
runs the main job and imports the widgets with their JavaScript."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# The Explorer's canvases and the webcam bar: package data the widgets cannot work without.
SCRIPTS = ("picture_canvas.js", "camera.js")


def run(*command, cwd: Path, timeout: float = 1500) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The wheel and sdist, built from a copy: a build writes into the tree it builds."""
    pytest.importorskip("build")
    copy = tmp_path_factory.mktemp("source")
    listed = run("git", "ls-files", "-co", "--exclude-standard", cwd=ROOT).splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, cwd=copy)
    return out


def test_the_wheel_and_the_sdist_hold_the_package_and_its_scripts(dist):
    wheel = next(dist.glob("gbp_widgets-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for script in SCRIPTS:
        assert f"gbp_widgets/widgets/{script}" in names
    assert not [name for name in names if name.startswith(("tests/", "docs/", "benchmarks/"))]
    assert any(name.endswith("licenses/LICENSE") for name in names)
    sdist = next(dist.glob("gbp_widgets-*.tar.gz"))
    members = tarfile.open(sdist).getnames()
    assert any(name.endswith("/LICENSE") for name in members)


def test_the_wheel_alone_runs_the_main_job_and_imports_the_widgets(dist, tmp_path):
    wheel = next(dist.glob("gbp_widgets-*.whl"))
    env = tmp_path / "env"
    run(sys.executable, "-m", "venv", env, cwd=tmp_path)
    python = env / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "-c", ROOT / "constraints.txt", wheel, cwd=tmp_path)
    printed = run(
        env / "bin" / "gbp-widgets",
        "explain",
        "--sample",
        "chelsea",
        "--out",
        "cat.png",
        cwd=tmp_path,
    )
    assert "explained: tiger cat (class 282" in printed
    assert (tmp_path / "cat.png").stat().st_size > 10_000
    check = (
        "import importlib.resources, gbp_widgets.widgets as w; "
        "from gbp_widgets import Explorer; "
        f"print(all((importlib.resources.files(w) / n).is_file() for n in {SCRIPTS!r}), "
        "Explorer.__name__, w.__file__)"
    )
    printed = run(python, "-c", check, cwd=tmp_path).split()
    assert printed[:2] == ["True", "Explorer"]
    assert printed[2].startswith(str(env))  # the installed copy, not the repository's
