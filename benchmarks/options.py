"""Command-line values the benchmark scripts share (run as ``python benchmarks/NAME.py``,
which puts this folder on the import path)."""

from __future__ import annotations

import argparse


def repeats(text: str) -> int:
    """``--repeats``: a whole number of timed runs, 1 or more (a median needs one)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of runs, not {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"at least 1 run is needed for a median, not {count}")
    return count
