"""The webcam bar (anywidget): the *webcam*, *freeze* and *top class* toggles, the frames
per second, and the camera itself. Frames are grabbed from a ``getUserMedia`` stream,
centre-cropped and scaled to the model's input size in the browser, and sent as raw RGBA
bytes.

The page keeps at most two frames with the kernel (camera.js says why), so frames never
pile up: those the camera makes meanwhile are not sent. A frame that arrives is explained
on the event loop's next turn, after any message already waiting, so a control changed
while a frame was explained applies to the next frame; a frame that a newer one overtakes
before its turn is answered as dropped. The camera is open only while :attr:`active` is on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import anywidget
import traitlets

from gbp_widgets.explore.stream import CameraState

# The Explorer's webcam traits and the bar's attributes that are their toggles.
TOGGLES = {"webcam": "active", "freeze": "paused", "follow_top": "follow"}


class Camera(anywidget.AnyWidget):
    """``active`` opens the camera (the *webcam* toggle), ``paused`` holds the frame
    shown without closing it (*freeze*), ``follow`` is the *top class* toggle; ``size``
    is the side of the square frames sent; ``state`` is what the page reports (a
    :class:`~gbp_widgets.explore.stream.CameraState` value); ``readout`` is shown beside
    the toggles. The page sets the toggles on a click; the kernel may put them back."""

    # The script's text, not its path: anywidget watches a path's file for edits and keeps
    # every instance connected to that watch, so no widget made from a path is ever freed
    # (nor the Explorer around it, with its model and passes).
    _esm = Path(__file__).with_name("camera.js").read_text(encoding="utf-8")
    active = traitlets.Bool(False).tag(sync=True)
    paused = traitlets.Bool(False).tag(sync=True)
    follow = traitlets.Bool(True).tag(sync=True)
    size = traitlets.Int(224).tag(sync=True)
    state = traitlets.Unicode(CameraState.OFF.value).tag(sync=True)
    readout = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._frame: Callable[[int, bytes], None] | None = None
        self._waiting: tuple[int, bytes] | None = None
        self.on_msg(self._received)

    def on_frame(self, callback: Callable[[int, bytes], None]) -> None:
        """Call ``callback(frame_id, rgba_bytes)`` for each frame the page sends; it must
        answer with :meth:`done`, or no further frame comes."""
        self._frame = callback

    def done(self, frame_id: int, drawn: bool) -> None:
        """Tell the page frame ``frame_id`` is finished (``drawn`` or dropped): it grabs
        the next."""
        self.send({"done": int(frame_id), "drawn": bool(drawn)})

    def _received(self, _widget: object, content: dict, buffers: list) -> None:
        if content.get("event") != "frame":
            return
        frame_id = int(content.get("id", 0))
        if self._frame is None or not buffers:
            self.done(frame_id, False)
            return
        if self._waiting is not None:
            self.done(self._waiting[0], False)
        self._waiting = (frame_id, bytes(buffers[0]))
        try:
            asyncio.get_running_loop().call_soon(self._explain_waiting)
        except RuntimeError:  # no event loop (a script, a test): at once
            self._explain_waiting()

    def _explain_waiting(self) -> None:
        if self._waiting is not None and self._frame is not None:
            (frame_id, data), self._waiting = self._waiting, None
            self._frame(frame_id, data)
