"""Views one step from the one shown, so their pictures can reach the browser first.

Any change waits for the kernel: about 35 ms of messages on a small machine before any
work, then a backward pass for a new rule or target, and a forward one as well for a new
item. The pictures of the next step in each direction are made while nothing else is
asked, and the browser shows them the moment the control changes; the kernel's own redraw
follows. Which traits are drawn ahead, which values are one step away, how each moves the
view and in what order: the state table's rows say (their ``ahead``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial

import numpy as np

from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.explore.state import STATE
from gbp_widgets.explore.table import Effect, StateTable, Steps
from gbp_widgets.explore.view import View

AHEAD_TRAITS = STATE.ahead()
"""The traits drawn ahead, in the order their pictures are made."""
# noUiSlider (the ipywidgets slider) moves one step for an arrow key and five for Page
# Up / Page Down.
PAGE_STEPS = 5

PictureMaker = Callable[[], dict[str, np.ndarray]]
"""Makes the panels of a view ahead, as :meth:`ExplorerSession.panels` returns them."""


def neighbours(value: object, choices: Sequence) -> list:
    """The choices next to ``value`` in ``choices``' order (none when it is not there)."""
    if value not in choices:
        return []
    at = list(choices).index(value)
    return [choices[i] for i in (at - 1, at + 1) if 0 <= i < len(choices)]


def numbers_near(value: float, low: float, high: float, steps: Sequence[float]) -> list[float]:
    """``value`` moved by each of ``steps`` either way, kept in ``[low, high]`` (slider
    values: rounded as the slider rounds its steps, to 10 decimals)."""
    near = []
    for step in steps:
        for moved in (value - step, value + step):
            moved = round(min(max(moved, low), high), 10)
            if moved != value and moved not in near:
                near.append(moved)
    return near


def candidates(
    session: ExplorerSession, state: Mapping[str, object], table: StateTable = STATE
) -> dict[str, list]:
    """The values one step from each trait's in ``state``, for each trait drawn ahead, as
    its row's ``ahead`` says (its choices for ``session``, or its bounds)."""
    found = {}
    for name in table.ahead():
        row, value = table[name], state[name]
        if row.ahead.steps is Steps.KEYS:
            low, high, step = row.bounds
            found[name] = numbers_near(value, low, high, (step, step * PAGE_STEPS))
            continue
        values = [v for _, v in table.options(name, session, state)]
        if row.ahead.steps is Steps.OTHERS:
            near = values
        else:
            near = neighbours(value, values) + values[: row.ahead.first]
        found[name] = [v for v in dict.fromkeys(near) if v != value]
    return found


def moved_view(
    session: ExplorerSession, view: View, name: str, value: object, table: StateTable = STATE
) -> View:
    """``view`` after trait ``name`` takes ``value``, as the Explorer redraws it."""
    row = table[name]
    move = row.ahead.moves if row.ahead and row.ahead.moves else row.to_view
    return move(session, view, value)


def pictures_ahead(
    session: ExplorerSession,
    view: View,
    state: Mapping[str, object],
    candidates: Mapping[str, Sequence],
    size: int,
    new_passes: bool = True,
    table: StateTable = STATE,
) -> Iterator[tuple[str, object, PictureMaker]]:
    """``(trait, value, make)`` for each of ``candidates`` (trait -> values) whose picture
    follows from that trait alone while the traits are ``state``: first those drawn from
    passes already made, in the table's order, then, with ``new_passes``, those that need
    a new pass, taking turns; each trait's first value first."""
    order = table.ahead()
    for name in candidates:
        if name not in order:
            raise ValueError(f"{name!r} is not drawn ahead: use one of {order}")
    drawn = {}
    for name in order:
        when = table[name].ahead.when
        if name in candidates and (when is None or when(state)):
            drawn[name] = candidates[name]

    def maker(name: str, value: object) -> PictureMaker:
        make = table[name].ahead.make
        if make is not None:
            return partial(make, session, view, value, size)
        moved = moved_view(session, view, name, value, table)
        return partial(session.panels, moved, size, grid=False)

    def ready(name: str, value: object) -> bool:
        """Whether the view after the change is drawn from passes already made."""
        effect = table[name].effect
        if effect is not Effect.BACKWARD:
            return effect is Effect.RENDER
        moved = moved_view(session, view, name, value, table)
        return session.has_pass(moved.target, moved.rule)

    for name, values in drawn.items():
        for value in values:
            if ready(name, value):
                yield name, value, maker(name, value)
    if not new_passes:
        return
    costly = [
        [(name, value) for value in values if not ready(name, value)]
        for name, values in drawn.items()
        if table[name].effect is not Effect.RENDER
    ]
    for turn in itertools.zip_longest(*costly):
        for name, value in filter(None, turn):
            yield name, value, maker(name, value)
