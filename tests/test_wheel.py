"""``python -m build`` makes a wheel and an sdist from a copy of the repository, with the
package's data (the widgets' JavaScript, the shipped scene network) and its license, and
nothing of the tests, docs or benchmarks. That an installed copy runs the main job and opens
the Explorer is tests/test_getting_started.py's, on the README's own command."""

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


def copy_of_the_repository(copy: Path) -> Path:
    """The files a clone would hold (tracked, and new ones git does not ignore), in ``copy``:
    a build or an editable install writes into the tree it works in."""
    listed = run("git", "ls-files", "-co", "--exclude-standard", cwd=ROOT).splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The wheel and sdist, built from a copy: a build writes into the tree it builds."""
    pytest.importorskip("build")
    copy = copy_of_the_repository(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, cwd=copy)
    return out


def test_the_wheel_and_the_sdist_hold_the_package_and_its_scripts(dist):
    wheel = next(dist.glob("gbp_widgets-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for script in SCRIPTS:
        assert f"gbp_widgets/widgets/{script}" in names
    assert "gbp_widgets/trust/scene_cnn.pt" in names  # the shipped scene network
    assert not [name for name in names if name.startswith(("tests/", "docs/", "benchmarks/"))]
    assert any(name.endswith("licenses/LICENSE") for name in names)
    sdist = next(dist.glob("gbp_widgets-*.tar.gz"))
    members = tarfile.open(sdist).getnames()
    assert any(name.endswith("/LICENSE") for name in members)
