"""The webcam as an input source, without widgets: what a frame from the page must be, how
many frames a second are explained and drawn, and what the page's camera states mean."""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from gbp_widgets.threads import cores_allowed, torch_threads

# frames_per_second counts the frames drawn over this many seconds: long enough to be
# steady, short enough to follow a change of rule or model.
FRAME_WINDOW = 3.0


class CameraState(enum.Enum):
    """Where the page's camera is; the page reports it, the kernel says what it means."""

    OFF = "off"
    ASKING = "asking"
    ON = "on"
    REFUSED = "refused"
    UNAVAILABLE = "unavailable"
    INSECURE = "insecure"

    @property
    def problem(self) -> str:
        """What went wrong and what to do, for the status line ("" when nothing did)."""
        return _PROBLEMS.get(self, "")


_PROBLEMS = {
    CameraState.REFUSED: (
        "the browser was refused the camera: allow it for this page (the camera icon in the "
        "address bar) and switch the webcam on again, or go on with photos"
    ),
    CameraState.UNAVAILABLE: (
        "no camera could be opened (none is connected, or another program holds it): "
        "connect one and switch the webcam on again, or go on with photos"
    ),
    CameraState.INSECURE: (
        "browsers give the camera only to pages served over https or from localhost: open "
        "Jupyter at https:// or http://localhost (127.0.0.1), or go on with photos"
    ),
}


def frame_picture(data: bytes | memoryview, size: int) -> np.ndarray:
    """A frame as the page sends it, ``size`` x ``size`` RGBA bytes, as the ``(size, size,
    3)`` uint8 RGB picture the model sees; ``ValueError`` for any other length."""
    expected = size * size * 4
    if len(data) != expected:
        raise ValueError(
            f"a webcam frame of {len(data)} bytes is not a {size} x {size} RGBA picture "
            f"({expected} bytes)"
        )
    rgba = np.frombuffer(data, dtype=np.uint8).reshape(size, size, 4)
    return np.ascontiguousarray(rgba[:, :, :3])


class FrameRate:
    """Frames explained and drawn per second: over the frames of the last ``window``
    seconds, or over the last two when they are further apart (a slow machine still gets
    its rate); 0 before two frames and once none has come for ``window`` seconds."""

    def __init__(self, window: float = FRAME_WINDOW, clock: Callable[[], float] = time.monotonic):
        self.window, self._clock = window, clock
        self._times: deque[float] = deque()

    def tick(self) -> None:
        """One more frame drawn, now."""
        now = self._clock()
        self._times.append(now)
        while len(self._times) > 2 and now - self._times[0] > self.window:
            self._times.popleft()

    @property
    def value(self) -> float:
        """Frames per second."""
        if len(self._times) < 2 or self._clock() - self._times[-1] > self.window:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


@contextmanager
def leaving_a_core() -> Iterator[int]:
    """Inside the block PyTorch uses one thread fewer than the cores allowed (at least one,
    never more than it was set to), and as many as before after it; yields the number.

    The browser that grabs and draws the frames usually shares the kernel's machine: a
    thread on every core makes the two wait on each other. On two cores, one thread per
    frame made 8.5 frames a second against 7.8 with two (benchmarks/webcam.py; the figures
    are in docs/guides/speed.md).
    """
    with torch_threads(max(1, min(torch.get_num_threads(), cores_allowed() - 1))) as threads:
        yield threads
