"""Views one step from the one shown, so their pictures can reach the browser first.

Any change waits for the kernel: about 35 ms of messages on a small machine before any
work, then a backward pass for a new rule or target, and a forward one as well for a new
item. The pictures of the next step in each direction are made while nothing else is
asked, and the browser shows them the moment the control changes; the kernel's own redraw
follows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial

import numpy as np

from gbp_widgets.explore.chosen import SITE_TARGET_KINDS
from gbp_widgets.explore.names import ALL_CHANNELS
from gbp_widgets.explore.passes import View
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.explore.state import STATE, Effect

AHEAD_TRAITS = tuple(name for name, row in STATE.items() if row.ahead)
RENDER_AHEAD = tuple(name for name in AHEAD_TRAITS if STATE[name].effect is Effect.RENDER)
"""Traits drawn ahead that only re-render from the passes already made."""
# A forward pass costs more than a backward one: the items take the last turn.
COSTLY_AHEAD = tuple(
    sorted(
        (name for name in AHEAD_TRAITS if name not in RENDER_AHEAD),
        key=lambda name: STATE[name].effect is Effect.INPUT,
    )
)
"""Traits drawn ahead that need a backward pass each, and a forward pass for ``item``
(``target`` and ``item`` while the target kind is ``"class"``)."""
# The order of the views that cost no new pass (a rule or class whose pass is cached
# among them): the buttons first, as people click them one after another to compare,
# then the sliders and menus.
READY_ORDER = ("display", "rule", "target", "percentile", "site", "channel", "slice")


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


def moved_view(session: ExplorerSession, view: View, name: str, value: object) -> View:
    """``view`` after trait ``name`` takes ``value``, as the Explorer redraws it: a new
    site keeps the channel only where that site has it."""
    if name == "site":
        channel = view.channel
        if channel != ALL_CHANNELS and channel >= session.channels(value):
            channel = ALL_CHANNELS
        return replace(view, site=value, channel=channel)
    if name == "slice":
        return replace(view, cut=replace(view.cut, index=value))
    if name == "target":
        return replace(view, target=session.class_target(value))
    return replace(view, **{name: value})


PictureMaker = Callable[[], dict[str, np.ndarray]]
"""Makes the panels of a view ahead, as :meth:`ExplorerSession.panels` returns them."""


def pictures_ahead(
    session: ExplorerSession,
    view: View,
    target_kind: str,
    candidates: Mapping[str, Sequence],
    size: int,
    new_passes: bool = True,
) -> Iterator[tuple[str, object, PictureMaker]]:
    """``(trait, value, make)`` for each candidate value of each trait in
    ``AHEAD_TRAITS`` whose picture follows from that trait alone: first those drawn
    from passes already made, in ``READY_ORDER``, then, with ``new_passes``, those that
    need a new pass, taking turns; each trait's first value first."""
    for name in candidates:
        if name not in AHEAD_TRAITS:
            raise ValueError(f"{name!r} is not drawn ahead: use one of {AHEAD_TRAITS}")
    drawn = {name: values for name, values in candidates.items() if _follows(name, target_kind)}

    def maker(name: str, value: object) -> PictureMaker:
        if name == "item":
            return partial(item_pictures, session, view, value, size)
        return partial(session.panels, moved_view(session, view, name, value), size, grid=False)

    def ready(name: str, value: object) -> bool:
        """Whether the view after the change is drawn from passes already made."""
        if name in RENDER_AHEAD:
            return True
        if name == "item":
            return False
        moved = moved_view(session, view, name, value)
        return session.has_pass(moved.target, moved.rule)

    for name in READY_ORDER:
        for value in drawn.get(name, ()):
            if ready(name, value):
                yield name, value, maker(name, value)
    if not new_passes:
        return
    costly = [
        [(name, value) for value in drawn.get(name, ()) if not ready(name, value)]
        for name in COSTLY_AHEAD
    ]
    for turn in itertools.zip_longest(*costly):
        for name, value in filter(None, turn):
            yield name, value, maker(name, value)


def item_pictures(session: ExplorerSession, view: View, item: int, size: int) -> dict:
    """The panels after a move to ``item``: ``view``'s choices, the target the item's own
    top class (as the Explorer picks it for a new item, while the target kind is
    ``"class"``)."""
    with session.another_item(item):
        target = session.class_target(session.first_class())
        return session.panels(replace(view, target=target), size, grid=False)


def _follows(name: str, target_kind: str) -> bool:
    """Whether the picture after a change of ``name`` alone can be drawn ahead."""
    # A target picked at the site moves with the site and channel: a backward pass each.
    if name in ("site", "channel"):
        return target_kind not in SITE_TARGET_KINDS
    if name in ("target", "item"):
        return target_kind == "class"
    return True
