"""What an executed notebook must show of its figures: a picture for every figure a cell
makes, never the bare ``<Figure size ...>`` text a kernel without a pyplot backend gives, and
in each tutorial at least one figure of its own."""

from __future__ import annotations

import re

FIGURE_TEXT = re.compile(r"^<Figure size [^>]*>$")
# A kernel shows figures as PNG; the docs' copies keep some as JPEG (docs/execute_notebooks.py).
PICTURES = {"image/png", "image/jpeg"}

# The assignments, notebook 05, the app (the Explorer alone) and notebook 09 (its pictures
# are the Gallery's) draw no figure of their own.
WITHOUT_OWN_FIGURES = re.compile(r"assignment.*|app\.ipynb|05_.*|09_.*")


def _figure_cell(cell) -> bool:
    lines = [line for line in cell.source.strip().splitlines() if line.strip()]
    return bool(lines) and bool(re.search(r"plt\.show\(\)|figure\([^()]*\)$", lines[-1].strip()))


def figure_problems(name: str, notebook) -> list[str]:
    """What is wrong with the figures of ``notebook`` (an executed ``nbformat`` notebook
    called ``name``), one sentence each; empty when nothing is."""
    problems, figure_cells = [], 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        pictures = 0
        for output in cell.outputs:
            data = output.get("data", {})
            picture = bool(PICTURES & set(data))
            pictures += picture
            text = data.get("text/plain", "")
            if FIGURE_TEXT.match(text) and not picture:
                problems.append(f"{name} cell {index} shows {text!r} instead of a picture")
        if _figure_cell(cell):
            figure_cells += 1
            if not pictures:
                problems.append(f"{name} cell {index} makes a figure but shows no picture")
    if not figure_cells and not WITHOUT_OWN_FIGURES.fullmatch(name):
        problems.append(f"{name}: this tutorial lost its figures")
    return problems
