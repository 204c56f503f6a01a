"""Run the notebooks once and keep what they show, for the documentation site.

The site shows each notebook with its outputs, and building the site runs nothing: this
script runs every notebook of ``notebooks/`` in a fresh kernel (from that folder, as a
reader would) and writes it, outputs included, to ``docs/notebooks/``. Widget state is
dropped, so an Explorer shows as the picture of ``explorer.figure()`` its display data
carries; a picture that JPEG stores in less than half the bytes of its PNG is stored as a
JPEG (quality 85), which keeps the pages light. The assignments are the students'
releases, whose cells are left for students to fill in: they are copied as they are, not
run. Run it after changing a notebook:

    python docs/execute_notebooks.py [NAME.ipynb ...]

``tests/test_docs.py`` fails when a copy's code differs from its notebook's.
"""

from __future__ import annotations

import base64
import io
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SOURCE, TARGET = ROOT / "notebooks", ROOT / "docs" / "notebooks"
NOT_RUN = ("assignment_",)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def lighter(data: dict) -> None:
    """The output's PNG as a JPEG where that is less than half its size."""
    png = base64.b64decode(data["image/png"])
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(buffer, "JPEG", quality=85, optimize=True)
    if buffer.tell() < len(png) / 2:
        data.pop("image/png")
        data["image/jpeg"] = base64.b64encode(buffer.getvalue()).decode("ascii")


def for_the_site(notebook) -> None:
    """Drop widget state and the widget views outputs hold, and make pictures lighter;
    what else they show stays."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                data.pop(WIDGET_VIEW)
                if "image/png" in data:
                    data.pop("text/plain", None)
            if "image/png" in data:
                lighter(data)


def main(names: list[str]) -> None:
    paths = [SOURCE / name for name in names] or sorted(SOURCE.glob("*.ipynb"))
    unknown = [path.name for path in paths if not path.is_file()]
    if unknown:
        choices = ", ".join(sorted(path.name for path in SOURCE.glob("*.ipynb")))
        raise SystemExit(f"no notebook {', '.join(unknown)} in notebooks/; there are {choices}")
    TARGET.mkdir(exist_ok=True)
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        started = time.perf_counter()
        if not path.name.startswith(NOT_RUN):
            NotebookClient(
                notebook, timeout=900, kernel_name="python3", resources={"path": str(SOURCE)}
            ).execute()
        for_the_site(notebook)
        nbformat.write(notebook, TARGET / path.name)
        size = (TARGET / path.name).stat().st_size / 1e6
        print(f"{path.name}: {time.perf_counter() - started:.0f} s, {size:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1:])
