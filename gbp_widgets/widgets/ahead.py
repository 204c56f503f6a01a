"""Pictures sent ahead: the rows' pictures one step from the view shown, made while the
kernel is idle, shown by the browser the moment their control changes.

Each control's browser model is watched by the canvases (``picture_canvas.js``). A set of
pictures ahead is tied to the values all watched controls had when it was made; the
browser uses it only if nothing else changed since, then drops it. The kernel redraws
every change as before, with the same pixels, so a picture ahead is never the last word.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import ipywidgets as widgets
import numpy as np

from gbp_widgets.explore import ExplorerSession, Scene, StateTable
from gbp_widgets.explore.ahead import PictureMaker, candidates, pictures_ahead
from gbp_widgets.threads import torch_threads
from gbp_widgets.widgets.canvas import PanelStrip
from gbp_widgets.widgets.picture_canvas import Said

# The pictures ahead wait this long after a redraw, so the redraw's own pictures reach
# the screen first instead of sharing the cores with the ones ahead.
SETTLE_SECONDS = 0.1
# Other rules, top classes and items that need a new backward pass are drawn ahead only
# while a pass takes at most this long: each is one job, and a click that arrives during
# it waits for it.
BACKWARD_AHEAD_SECONDS = 0.25
# The kernel rests this fraction of each job's time before the next job.
REST_PER_JOB = 0.5


def said(control: widgets.Widget, value: object) -> Said | None:
    """``value`` as ``control``'s browser model holds it: the option's index for a menu or
    buttons, the value for a slider; ``None`` when the control cannot show it."""
    if _is_menu(control):
        values = _values(control)
        if value not in values:
            return None
        return control.model_id, "index", values.index(value)
    return control.model_id, "value", value


def held(control: widgets.Widget) -> Said:
    """What ``control``'s browser model holds now (a menu's index may be ``None``)."""
    if _is_menu(control):
        return control.model_id, "index", control.index
    return said(control, control.value)


class PicturesAhead:
    """Makes and sends the pictures ahead, one view per turn of the event loop, so a
    request from the browser is served before the next one; any redraw cancels the rest.
    Without a running loop (scripts, tests) the jobs wait for :meth:`run_all`.

    ``controls``: the controls of each trait of ``table`` (by trait name) whose browser
    values a set of pictures ahead is tied to."""

    def __init__(self, table: StateTable, controls: Mapping[str, Sequence[widgets.Widget]]) -> None:
        self._table, self._controls = table, controls
        self._jobs: deque[Callable[[], None]] = deque()
        self._handle: asyncio.Handle | None = None

    @property
    def pending(self) -> int:
        """How many jobs are queued: the views ahead not yet made (and, until the first
        turn after a redraw, the one job that lists them)."""
        return len(self._jobs)

    def cancel(self) -> None:
        self._jobs.clear()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def start(
        self,
        session: ExplorerSession,
        scene: Scene,
        state: Mapping[str, object],
        strips: Sequence[PanelStrip],
    ) -> None:
        """Queue the views one step from ``scene``'s, while the traits are ``state``: a
        view for each value one step from a trait's (its row's ``ahead`` says which), for
        ``strips``. Which views those are is worked out by the first job, off the redraw's
        time; the controls' browser values they are tied to are those of now."""
        self.cancel()
        watch = [held(c) for controls in self._controls.values() for c in controls]
        self._jobs.append(partial(self._list, session, scene, dict(state), strips, watch))
        self._schedule(SETTLE_SECONDS)

    def _list(
        self,
        session: ExplorerSession,
        scene: Scene,
        state: Mapping[str, object],
        strips: Sequence[PanelStrip],
        watch: list[Said],
    ) -> None:
        """Queue a job for each view ahead (any request since the redraw cancelled this)."""
        # A rule or class already passed costs a render only: drawn ahead however slow.
        quick = session.pass_seconds <= BACKWARD_AHEAD_SECONDS
        near = candidates(session, state, self._table)
        size = strips[0].size
        for name, value, make in pictures_ahead(
            session, scene.view, state, near, size, quick, self._table
        ):
            when = [s for c in self._controls[name] if (s := said(c, value)) is not None]
            if when:
                self._jobs.append(partial(self._send, strips, make, scene.pictures, watch, when))

    def run_all(self) -> None:
        while self._jobs:
            self._jobs.popleft()()

    def _schedule(self, delay: float = 0.0) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._jobs and self._handle is None:
            self._handle = loop.call_later(delay, self._step)

    def _step(self) -> None:
        self._handle = None
        started = time.perf_counter()
        if self._jobs:
            self._jobs.popleft()()
        # A message from the browser takes several turns of the event loop to reach the
        # Explorer; a pause after each job lets it through before the next job starts.
        self._schedule(REST_PER_JOB * (time.perf_counter() - started))

    def _send(
        self,
        strips: Sequence[PanelStrip],
        make: PictureMaker,
        pictures: Mapping[str, np.ndarray],
        watch: list[Said],
        when: list[Said],
    ) -> None:
        # One thread: a backward pass ahead leaves the other cores to the Jupyter server and
        # the browser, which are decoding the pictures already sent (on two cores, one
        # thread costs a pass about a third more time).
        try:
            with warnings.catch_warnings(), torch_threads(1):
                warnings.simplefilter("ignore")
                ahead = make()
        except Exception:  # noqa: BLE001 - a picture ahead is optional; the redraw will say
            return
        changed = {name: p for name, p in ahead.items() if p is not pictures.get(name)}
        for strip in strips:
            strip.send_ahead(watch, when, changed)


def _is_menu(control: widgets.Widget) -> bool:
    """Menus and buttons: their browser models hold the option's index, not the value."""
    return hasattr(control, "index") and hasattr(control, "options")


def _values(control: widgets.Widget) -> list:
    return [o[1] if isinstance(o, tuple) else o for o in control.options]
