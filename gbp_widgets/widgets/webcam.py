"""The Explorer's webcam: the bar's camera frames explained as they come, how many a second,
and what the page's camera states mean for the status line."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gbp_widgets.explore.open import describe
from gbp_widgets.explore.stream import CameraState, FrameRate, frame_picture, leaving_a_core
from gbp_widgets.widgets.camera import Camera


class Webcam:
    """Frames from ``camera`` (the webcam bar), while it is on and not frozen, shown by
    ``show`` (a ``(size, size, 3)`` picture in, whether it was drawn out) at ``size()``
    pixels a side; ``report`` says a problem, ``say`` a word that is not one, ``clear``
    clears the status line, ``stop`` switches the webcam off (a camera that cannot be
    opened)."""

    def __init__(
        self,
        camera: Camera,
        show: Callable[[np.ndarray], bool],
        size: Callable[[], int],
        report: Callable[[str], None],
        say: Callable[[str], None],
        clear: Callable[[], None],
        stop: Callable[[], None],
    ) -> None:
        self.camera, self.rate = camera, FrameRate()
        self._show, self._size, self._stop = show, size, stop
        self._report, self._say, self._clear = report, say, clear
        camera.on_frame(self._frame)
        camera.observe(self._state, "state")
        camera.observe(self._switched, "active")

    @property
    def live(self) -> bool:
        """Whether frames are coming: the webcam on and not frozen."""
        return self.camera.active and not self.camera.paused

    def _frame(self, frame_id: int, data: bytes) -> None:
        """A frame from the page: explained and drawn before the page is told to send the
        next (one thread fewer than the cores, so the browser keeps one)."""
        drawn = False
        try:
            if self.live:
                with leaving_a_core():
                    drawn = self._show(frame_picture(data, self._size()))
        except Exception as err:  # noqa: BLE001 - a bad frame must not stop the Explorer
            self._report(f"a webcam frame could not be shown ({describe(err)})")
        finally:
            if drawn:
                self.rate.tick()
                self.camera.readout = f"{self.rate.value:.1f} frames/s"
            self.camera.done(frame_id, drawn)

    def _state(self, change) -> None:
        state = CameraState(change.new)
        if state.problem:
            self._stop()
            self._report(state.problem)
        elif state is CameraState.ASKING:
            self._say("asking the browser for the camera")
        elif state is CameraState.ON:
            self._clear()

    def _switched(self, change) -> None:
        self.rate = FrameRate()
        self.camera.readout = ""
