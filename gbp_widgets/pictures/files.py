"""Figure files: where one can be written, and writing it whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.backend_bases import FigureCanvasBase


def writable_figure_path(out: Path) -> Path:
    """``out`` if a figure can be written there, else a ``ValueError`` saying why."""
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder: give a file name, e.g. {out / 'figure.png'}")
    folder = out.parent
    if not folder.exists():
        raise ValueError(f"--out {out}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise ValueError(f"--out {out}: {folder} is a file, not a folder")
    formats = FigureCanvasBase.get_supported_filetypes()
    kind = out.suffix.lstrip(".").lower()
    if kind not in formats:
        raise ValueError(
            f"--out {out}: cannot tell the figure's format from {out.suffix or 'no suffix'!r}; "
            f"end the name with one of {', '.join('.' + f for f in sorted(formats))}"
        )
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ValueError(f"--out {out}: no permission to write there; choose another place")
    return out


def save_whole(figure, out: Path) -> None:
    """Write ``figure`` to ``out`` through a temporary file beside it, so ``out`` is
    either the whole figure or untouched."""
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        figure.savefig(partial, dpi=110, format=out.suffix.lstrip(".").lower())
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
