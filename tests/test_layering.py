"""Imports flow one way (DESIGN.md): checked by import-linter's contracts in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter comes with the [test] extra"
    run = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "9 kept, 0 broken" in run.stdout


def test_importing_the_engine_loads_no_widgets_at_run_time():
    code = "import gbp_widgets.engine, sys; print(' '.join(sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(run.stdout.split())
    assert not {"ipywidgets", "ipycanvas", "anywidget", "matplotlib"} & loaded


def test_the_package_loads_none_of_its_extras_until_asked():
    code = (
        "import gbp_widgets, gbp_widgets.cli, gbp_widgets.classroom, sys; "
        "from gbp_widgets import *; print(' '.join(sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(run.stdout.split())
    assert not {"ray", "voila", "nbgrader", "pyarrow", "pandas"} & loaded
