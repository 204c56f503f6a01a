"""Imports flow one way: the engine knows no widgets, rendering knows no torch."""

import subprocess
import sys


def modules_after(statement: str) -> set[str]:
    code = f"{statement}; import sys; print(' '.join(sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def test_engine_imports_no_widgets_or_rendering():
    loaded = modules_after("import gbp_widgets.engine")
    assert "ipywidgets" not in loaded and "ipycanvas" not in loaded
    assert "matplotlib" not in loaded


def test_render_imports_no_torch_or_widgets():
    code = (
        "import importlib.util, sys; spec = importlib.util.spec_from_file_location("
        "'render', 'gbp_widgets/render.py'); module = importlib.util.module_from_spec(spec); "
        "spec.loader.exec_module(module)"
    )
    loaded = modules_after(code)
    assert "torch" not in loaded and "ipywidgets" not in loaded
