"""Run only the newest of a burst of requests: a dragged slider must not queue stale work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

# Requests closer together than this coalesce. Long enough for the kernel to read
# every message that queued up while the last job ran, short enough not to be seen.
COALESCE_SECONDS = 0.02


class LatestOnly:
    """Holds one pending job; a newer request replaces it before it runs.

    Inside a running event loop (a Jupyter kernel), a request that comes after a
    quiet spell runs on the loop's next turn, so a single click costs no delay;
    requests that follow within ``delay`` of the last run wait that long, so a
    dragged slider's burst runs only its newest. Without a loop (scripts,
    tests) the job runs at once. :meth:`flush` runs a pending job immediately,
    for readers that need fresh results.
    """

    def __init__(self, delay: float = COALESCE_SECONDS) -> None:
        self._delay = delay
        self._job: Callable[[], None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_run = float("-inf")

    @property
    def pending(self) -> bool:
        return self._job is not None

    def submit(self, job: Callable[[], None]) -> None:
        self._job = job
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if self._timer is None:
            quiet = loop.time() - self._last_run >= self._delay
            self._timer = loop.call_later(0.0 if quiet else self._delay, self.flush)

    def run_now(self, job: Callable[[], object]) -> object:
        """Run ``job`` now in place of any pending one (it is the newer) and return its
        answer: for work that must finish before the caller answers, a webcam frame's."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._job = None
        try:
            return job()
        finally:
            self._last_run = _now()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        job, self._job = self._job, None
        if job is not None:
            try:
                job()
            finally:
                self._last_run = _now()


def _now() -> float:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return float("-inf")
