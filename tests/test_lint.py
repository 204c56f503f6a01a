"""The code passes the project's ruff configuration."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff comes with [test]")
def test_ruff_is_clean():
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_module_is_over_400_lines():
    """A module that grows past 400 lines is taken apart (CONTRIBUTING.md)."""
    long = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "gbp_widgets").rglob("*"))
        if path.suffix in (".py", ".js")
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}
