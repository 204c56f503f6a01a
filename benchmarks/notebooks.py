"""Wall time of each tutorial notebook in a fresh kernel (nbclient), on a quiet machine and
then beside busy neighbours: processes running PyTorch matrix products on every core, as
other users' kernels do on a shared Binder node. Prints one row per notebook, side by side;
with ``--write``, writes the table, with the date, the machine and its speed, to
``docs/guides/notebook-times.md``, which the docs include: the one place a notebook's time
is said.

    python benchmarks/notebooks.py [--busy N] [--write] [NOTEBOOK ...]

``--busy`` is the number of neighbour processes (default: one per core).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TABLE = ROOT / "docs" / "guides" / "notebook-times.md"
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


def machine() -> str:
    """The processor, its cores, and how long the default model's plain forward + backward
    takes on it (machines differ about threefold)."""
    import torch

    from gbp_widgets import load_model, sample_image

    model, preprocess, _ = load_model()
    x = preprocess(sample_image("chelsea"))[None]
    times = []
    for _ in range(12):
        leaf = x.clone().requires_grad_(True)
        started = time.perf_counter()
        torch.autograd.grad(model(leaf)[0, 281], leaf)
        times.append(time.perf_counter() - started)
    name = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or platform.machine(),
    )
    return (
        f"{name}, {len(os.sched_getaffinity(0))} cores, no GPU; EfficientNet-Lite0's plain "
        f"forward + backward {1000 * statistics.median(times[2:]):.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--write", action="store_true", help=f"write the table to {TABLE}")
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args()
    numbered = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    paths = [NOTEBOOKS / n for n in args.notebooks] or numbered
    quiet = {path.name: run(path) for path in paths}
    neighbours = busy(args.busy)
    try:
        time.sleep(5)  # let the neighbours' threads start and the load average rise
        loaded = {path.name: run(path) for path in paths}
    finally:
        for process in neighbours:
            process.kill()
            process.wait()
    lines = [
        f"Measured {datetime.date.today().isoformat()} by `python benchmarks/notebooks.py "
        f"--write`: {machine()}. Seconds, each notebook in a fresh kernel.",
        "",
        f"| notebook | quiet (s) | beside {args.busy} busy processes (s) |",
        "|---|---|---|",
        *(f"| `{name}` | {quiet[name]:.0f} | {loaded[name]:.0f} |" for name in quiet),
    ]
    print("\n".join(lines))
    if args.write:
        partial = TABLE.with_suffix(".partial")
        partial.write_text("\n".join(lines) + "\n")
        os.replace(partial, TABLE)
        print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
