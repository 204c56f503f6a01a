"""Binder: the files follow repo2docker's conventions, and an environment built from them
(with the pinned constraints) holds everything the notebooks import and runs the ones a
Binder visitor opens first.

nbval already runs every notebook, in the test environment, and checks their outputs; the
docs test checks that each stored copy shows its figures as pictures. What only a fresh
Binder environment can show is that ``binder/`` installs, that its list is complete (every
notebook's imports load there, and notebook 09's Parquet job runs, whose pyarrow and pandas
are imported only when it runs), and that the quickstart and the Voila app run there with
their figures as pictures in a kernel where no pyplot backend has been activated."""

import importlib.metadata
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from tests.notebook_figures import figure_problems

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def binder_requirements() -> list[Requirement]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [Requirement(line) for line in lines if line.strip() and line[0] not in "#-"]


def test_runtime_and_post_build_follow_repo2docker():
    assert re.fullmatch(r"python-3\.\d+\n?", (BINDER / "runtime.txt").read_text())
    post_build = BINDER / "postBuild"
    assert post_build.read_text().startswith("#!/bin/bash")
    assert post_build.stat().st_mode & stat.S_IXUSR


def test_requirements_cover_the_package_with_cpu_torch():
    text = (BINDER / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    names = {requirement.name for requirement in binder_requirements()}
    declared = [Requirement(line) for line in importlib.metadata.requires("gbp-widgets")]
    needed = {requirement.name for requirement in declared if requirement.marker is None}
    assert needed <= names, f"missing from binder/requirements.txt: {needed - names}"
    pins = dict(
        line.split("==")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    for requirement in binder_requirements():
        if requirement.name in ("torch", "torchvision"):
            assert str(requirement.specifier) == f"=={pins[requirement.name]}"


# The CUDA build of torch in this environment stands in for the CPU build Binder takes from
# PyTorch's index (out of reach here): same pinned versions, linked rather than installed a
# second time, because a second copy costs 5 GB of disk on every run.
TORCH_PARTS = re.compile(r"(torch|torchgen|torchvision|triton|nvidia|cuda)([-_.].*)?")


def link_torch_into(venv: Path, folder: Path) -> None:
    import torch

    installed = Path(torch.__file__).resolve().parents[1]
    folder.mkdir()
    for entry in installed.iterdir():
        if TORCH_PARTS.fullmatch(entry.name):
            (folder / entry.name).symlink_to(entry)
    site_packages = next(venv.glob("lib/python3*/site-packages"))
    (site_packages / "linked_torch.pth").write_text(f"{folder}\n")


# Notebooks a Binder visitor opens first (the quickstart, the Voila app) and the one whose
# packages are imported only inside a call (notebook 09 writes and reads Parquet).
RUN_IN_BINDER = ("01_quickstart.ipynb", "app.ipynb", "09_a_whole_data_set.ipynb")


# Builds an environment: left out of the fast subset.
@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("GBP_SKIP_BINDER_BUILD") == "1", reason="asked to skip")
def test_a_fresh_environment_from_binder_imports_what_every_notebook_does_and_runs_the_first_ones(
    tmp_path,
):
    venv = tmp_path / "binder-env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    try:
        executed = build_and_run_notebooks(venv, tmp_path)
    finally:
        shutil.rmtree(venv, ignore_errors=True)
    assert sorted(path.name for path in executed.glob("*.ipynb")) == sorted(RUN_IN_BINDER)
    problems = [
        problem
        for name in RUN_IN_BINDER
        for problem in figure_problems(name, nbformat.read(executed / name, as_version=4))
    ]
    assert not problems, "\n".join(problems)


def notebook_imports() -> list[str]:
    """Every import statement of every notebook, in order, without repeats."""
    found = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                found += [
                    line.split("#")[0].strip()
                    for line in cell.source.splitlines()
                    if re.match(r"(import|from) \S+", line) and not line.rstrip().endswith("(")
                ]
    return list(dict.fromkeys(found))


def build_and_run_notebooks(venv: Path, tmp_path: Path) -> Path:
    """Install Binder's environment into ``venv``, load every notebook's imports there, run
    :data:`RUN_IN_BINDER`, and return the folder the executed notebooks were written to."""
    python = str(venv / "bin" / "python")
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)

    def run(*command, **options):
        done = subprocess.run(command, env=env, capture_output=True, text=True, **options)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    link_torch_into(venv, tmp_path / "linked-torch")
    requirements = tmp_path / "requirements.txt"
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    requirements.write_text("\n".join(line for line in lines if not line.startswith("--")))
    install = ["install", "-q", "-r", str(requirements), "-c", str(ROOT / "constraints.txt")]
    run(python, "-m", "pip", *install, "nbclient", "ipykernel", timeout=1200)
    run("bash", str(BINDER / "postBuild"), cwd=ROOT, timeout=600)
    runner = tmp_path / "run_notebooks.py"
    runner.write_text(RUN_NOTEBOOKS)
    imports = tmp_path / "imports.py"
    imports.write_text("\n".join(notebook_imports()) + "\n")
    run(python, str(imports), cwd=ROOT / "notebooks", timeout=600)
    notebooks = [str(ROOT / "notebooks" / name) for name in RUN_IN_BINDER]
    executed = tmp_path / "executed"
    executed.mkdir()
    run(python, str(runner), str(executed), *notebooks, cwd=tmp_path, timeout=1200)
    return executed


RUN_NOTEBOOKS = """
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

executed = Path(sys.argv[1])
for path in sys.argv[2:]:
    notebook = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(Path(path).parent)}}
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources=resources).execute()
    nbformat.write(notebook, executed / Path(path).name)
    print("ran", path)
"""
