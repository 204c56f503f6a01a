"""How many threads PyTorch can use here without waiting on cores that other work holds.

PyTorch starts one OpenMP thread per core it sees, and those threads spin at every
barrier. On a shared machine (a Binder node, a busy laptop) the cores it sees may be
taken by other processes or capped by a container's CPU quota; the threads then wait
a scheduler time slice at each barrier, and small operations become ten to twenty
times slower. One thread per *free* core avoids that. Nothing here changes a setting
but inside :func:`torch_threads`' block: the caller decides
(``torch.set_num_threads(fair_threads())``). Linux reports all of this; elsewhere the
answer is the cores allowed.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
PROC_STAT = Path("/proc/stat")


def cores_allowed() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota
    (``cpu.max``, as containers such as Binder's set it), at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def busy_share(seconds: float = 0.25) -> float | None:
    """The share of the machine's cores busy over the next ``seconds``, 0 to 1, from
    ``/proc/stat`` (``None`` where there is none). Unlike the load average, which trails
    by a minute, this sees work that just started."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in PROC_STAT.read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
        return sum(fields[:8]), idle  # guest time is already counted in user time

    try:
        total, idle = sample()
        time.sleep(seconds)
        total_after, idle_after = sample()
    except (OSError, ValueError, IndexError):
        return None
    elapsed = total_after - total
    if elapsed <= 0:
        return None
    return min(1.0, max(0.0, 1.0 - (idle_after - idle) / elapsed))


def fair_threads(busy: float | None = None) -> int:
    """Threads for PyTorch now: the allowed cores (:func:`cores_allowed`) less the
    ``busy`` share of them (0 to 1), at least 1. By default ``busy`` is the machine's
    share busy now (:func:`busy_share`), or its one-minute load average per core where
    that cannot be read; the load average alone would still count this process's own
    work of the last minute, such as a notebook's previous cell, as others'.

    Call it while this process is idle (its own work counts as busy)."""
    cores = cores_allowed()
    if busy is None:
        busy = busy_share()
    if busy is None:
        try:
            busy = min(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
        except OSError:
            return cores
    return max(1, min(cores, cores - math.ceil(busy * cores - 0.5)))


@contextmanager
def torch_threads(count: int) -> Iterator[int]:
    """PyTorch on ``count`` threads inside the block (yielded), on as many as before after
    it, even when the block raises."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(before)
