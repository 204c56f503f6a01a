"""Wall time of each tutorial notebook in a fresh kernel (nbclient), on a quiet machine and
then beside busy neighbours: processes running PyTorch matrix products on every core, as
other users' kernels do on a shared Binder node. Prints one row per notebook, side by side.

    python benchmarks/notebooks.py [--busy N] [NOTEBOOK ...]

``--busy`` is the number of neighbour processes (default: one per core).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NEIGHBOUR = "import torch\na = torch.randn(256, 256)\nwhile True:\n    a @ a\n"


def run(path: Path) -> float:
    """Seconds to execute ``path`` in a fresh kernel, from its own folder."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": path.parent}}
    )
    started = time.perf_counter()
    client.execute()
    return time.perf_counter() - started


def busy(count: int):
    """Start ``count`` neighbour processes; the caller ends them."""
    return [subprocess.Popen([sys.executable, "-c", NEIGHBOUR]) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args()
    paths = [NOTEBOOKS / n for n in args.notebooks] or sorted(NOTEBOOKS.glob("0*.ipynb"))
    quiet = {path.name: run(path) for path in paths}
    neighbours = busy(args.busy)
    try:
        time.sleep(5)  # let the neighbours' threads start and the load average rise
        loaded = {path.name: run(path) for path in paths}
    finally:
        for process in neighbours:
            process.kill()
            process.wait()
    print(f"| notebook | quiet (s) | beside {args.busy} busy processes (s) |")
    print("|---|---|---|")
    for name in quiet:
        print(f"| `{name}` | {quiet[name]:.0f} | {loaded[name]:.0f} |")


if __name__ == "__main__":
    main()
