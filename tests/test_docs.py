"""The documentation: the README fits on a screen or two and its code runs, here and on the
site; the site builds with ``mkdocs build --strict``; its API pages name everything public,
its command-line page every option, and each notebook page shows its notebook's code and
figures. Nothing is written into the repository."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import gbp_widgets
import gbp_widgets.metrics
from tests.notebook_figures import PICTURES, figure_problems

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SOURCES = sorted((ROOT / "notebooks").glob("*.ipynb"))
COPIES = ROOT / "docs" / "notebooks"


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


def test_the_readme_fits_on_a_screen_or_two():
    assert len(README.read_text().splitlines()) <= 200


@pytest.mark.parametrize("page", ["README.md", "docs/guides/engine.md"])
def test_the_engine_example_runs_as_written_in_the_readme_and_on_the_site(page):
    blocks = python_blocks(ROOT / page)
    assert blocks, f"{page} lost its python example"
    namespace: dict = {}
    exec(compile(blocks[0], page, "exec"), namespace)
    assert namespace["picture"].shape == (224, 224, 4)
    assert namespace["site"].name == "_blocks.1._swish#1"


def test_every_link_from_the_readme_into_the_repository_leads_somewhere():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text())
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert "docs/index.md" in local and "docs/reference/api.md" in local
    assert [link for link in local if not (ROOT / link).exists()] == []


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_each_notebook_page_shows_its_notebooks_code_and_its_figures(source):
    copy = COPIES / source.name
    assert copy.exists(), f"run python docs/execute_notebooks.py {source.name}"
    shown = nbformat.read(copy, as_version=4)

    def code(notebook):
        return [cell.source for cell in notebook.cells if cell.cell_type == "code"]

    assert code(shown) == code(nbformat.read(source, as_version=4)), (
        f"docs/notebooks/{source.name} is older than its notebook: run "
        f"python docs/execute_notebooks.py {source.name}"
    )
    assert "widgets" not in shown.metadata
    if not source.name.startswith("assignment_"):
        assert figure_problems(source.name, shown) == []


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return out


@pytest.mark.slow
def test_the_site_builds_strictly_and_its_api_pages_name_everything_public(site):
    api = (site / "reference" / "api" / "index.html").read_text()
    missing = [name for name in gbp_widgets.__all__ if not re.search(rf'id="[\w.]*\.{name}"', api)]
    assert missing == []
    # Signatures with their types, e.g. explain_dataset's keywords.
    assert "batch_size" in api and "rule" in api
    metrics = (site / "reference" / "metrics" / "index.html").read_text()
    names = gbp_widgets.metrics.__all__
    assert [name for name in names if not re.search(rf'id="[\w.]*\.{name}"', metrics)] == []


@pytest.mark.slow
def test_the_command_line_page_lists_every_option(site):
    page = (site / "reference" / "cli" / "index.html").read_text()
    command = Path(sys.executable).with_name("gbp-widgets")
    shared = {"--help", "--model", "--activations", "--out"}
    for name, own in (
        ("explain", {"--device"}),
        ("explain-dataset", {"--device"}),
        ("explain-text", {"--token"}),
    ):
        printed = subprocess.run(
            [str(command), name, "--help"], capture_output=True, text=True, check=True
        ).stdout
        options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", printed))
        assert shared | own <= options
        assert f"gbp-widgets {name} --help" in page
        assert [option for option in sorted(options) if option not in page] == []


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_each_notebook_page_holds_its_pictures(site, source):
    page = (site / "notebooks" / source.stem / "index.html").read_text()
    shown = nbformat.read(COPIES / source.name, as_version=4)
    pictures = sum(
        bool(PICTURES & set(output.get("data", {})))
        for cell in shown.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    drawn = re.findall(r'<img [^>]*src="data:image/(?:png|jpeg);base64,', page)
    assert len(drawn) >= pictures
    first_code = next(cell.source for cell in shown.cells if cell.cell_type == "code")
    assert first_code.splitlines()[0].split()[0] in page
