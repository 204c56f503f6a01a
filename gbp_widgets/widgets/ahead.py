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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial

import ipywidgets as widgets
import numpy as np
import torch

from gbp_widgets.explore import ExplorerSession, View
from gbp_widgets.explore.ahead import PictureMaker, neighbours, numbers_near, pictures_ahead
from gbp_widgets.widgets.canvas import PanelStrip
from gbp_widgets.widgets.controls import Controls
from gbp_widgets.widgets.picture_canvas import Said

# noUiSlider (the ipywidgets slider) moves one step for an arrow key and five for Page
# Up / Page Down.
PAGE_STEPS = 5
# Channels drawn ahead from the top of the menu (ranked by how much passes), besides the
# neighbours of the one shown.
TOP_CHANNELS = 3
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


def slider_candidates(slider: widgets.Widget, value: float) -> list[float]:
    """The values one arrow key and one page key away from ``value`` on ``slider``."""
    steps = (slider.step, slider.step * PAGE_STEPS)
    return numbers_near(value, slider.min, slider.max, steps)


class PicturesAhead:
    """Makes and sends the pictures ahead, one view per turn of the event loop, so a
    request from the browser is served before the next one; any redraw cancels the rest.
    Without a running loop (scripts, tests) the jobs wait for :meth:`run_all`."""

    def __init__(self, controls: Mapping[str, Sequence[widgets.Widget]]) -> None:
        self._controls = controls
        self._jobs: deque[Callable[[], None]] = deque()
        self._handle: asyncio.Handle | None = None

    @property
    def pending(self) -> int:
        """How many views ahead are queued and not yet made."""
        return len(self._jobs)

    def cancel(self) -> None:
        self._jobs.clear()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def start(
        self,
        session: ExplorerSession,
        view: View,
        pictures: Mapping[str, np.ndarray],
        candidates: Mapping[str, Sequence],
        target_kind: str,
        strips: Sequence[PanelStrip],
    ) -> None:
        """Queue the views one step from ``view`` (drawn as ``pictures``), a view for each
        of ``candidates`` (trait -> values, see :func:`candidates`), for ``strips``."""
        self.cancel()
        watch = [held(c) for controls in self._controls.values() for c in controls]
        # A rule or class already passed costs a render only: drawn ahead however slow.
        quick = session.pass_seconds <= BACKWARD_AHEAD_SECONDS
        size = strips[0].size
        for name, value, make in pictures_ahead(
            session, view, target_kind, candidates, size, quick
        ):
            when = [s for c in self._controls[name] if (s := said(c, value)) is not None]
            if when:
                self._jobs.append(partial(self._send, strips, make, pictures, watch, when))
        self._schedule(SETTLE_SECONDS)

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
        try:
            with warnings.catch_warnings(), _one_thread():
                warnings.simplefilter("ignore")
                ahead = make()
        except Exception:  # noqa: BLE001 - a picture ahead is optional; the redraw will say
            return
        changed = {name: p for name, p in ahead.items() if p is not pictures.get(name)}
        for strip in strips:
            strip.send_ahead(watch, when, changed)


def candidates(
    controls: Controls, session: ExplorerSession, view: View, state: Mapping[str, object]
) -> dict[str, list]:
    """The values one step from ``view`` in each trait drawn ahead, as its controls offer
    them (``state``: the Explorer's trait values)."""
    c = controls
    found: dict[str, list] = {
        "display": [v for v in _values(c.display) if v != view.display],
        "percentile": slider_candidates(c.percentile, view.percentile),
    }
    if session.site_names:
        found["site"] = neighbours(view.site, range(len(session.site_names)))
        # The menu's first entries as well: all channels, then those most let through.
        menu = _values(c.channel)
        near = neighbours(view.channel, menu) + menu[: 1 + TOP_CHANNELS]
        found["channel"] = [v for v in dict.fromkeys(near) if v != view.channel]
    if c.slice.max > 0:
        found["slice"] = neighbours(view.cut.index, range(c.slice.max + 1))
    # They cost a backward pass each (until cached): the other rules, the classes beside
    # the one shown in the top-5 row, the items on either side.
    found["rule"] = [v for v in _values(c.rule) if v != view.rule]
    found["target"] = neighbours(state["target"], _values(c.top))
    found["item"] = neighbours(state["item"], range(session.count))
    return found


@contextmanager
def _one_thread() -> Iterator[None]:
    """Torch on one thread: a backward pass ahead leaves the other cores to the Jupyter
    server and the browser, which are decoding the pictures already sent (on two cores,
    one thread costs a pass about a third more time)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _is_menu(control: widgets.Widget) -> bool:
    """Menus and buttons: their browser models hold the option's index, not the value."""
    return hasattr(control, "index") and hasattr(control, "options")


def _values(control: widgets.Widget) -> list:
    return [o[1] if isinstance(o, tuple) else o for o in control.options]
