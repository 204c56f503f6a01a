"""Generate the student releases with nbgrader and copy them into notebooks/.

Run from anywhere: ``python classroom/release.py``. It works in a temporary copy of
this course directory, so no gradebook or release folder is left here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

COURSE = Path(__file__).resolve().parent
NOTEBOOKS = COURSE.parent / "notebooks"
ASSIGNMENTS = ("guided_relu", "relu_hooks_miss")


def nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the nbgrader of this Python's environment (its bin/ first on PATH, for alembic)."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


def generate(course: Path) -> dict[str, Path]:
    """Run ``nbgrader generate_assignment`` for each assignment in ``course``;
    the released notebook of each, by assignment name."""
    released = {}
    for name in ASSIGNMENTS:
        nbgrader("generate_assignment", name, "--force", cwd=course)
        released[name] = course / "release" / name / f"assignment_{name}.ipynb"
    return released


def copy_course(destination: Path) -> Path:
    """A copy of the instructor course (config and sources) at ``destination``."""
    shutil.copytree(COURSE / "source", destination / "source")
    shutil.copy(COURSE / "nbgrader_config.py", destination)
    return destination


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in generate(copy_course(Path(tmp))).items():
            shutil.copy(path, NOTEBOOKS / path.name)
            print(f"{name}: {NOTEBOOKS / path.name}")


if __name__ == "__main__":
    main()
