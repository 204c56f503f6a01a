"""Views one step from the one shown, so their pictures can reach the browser first.

Any change waits for the kernel: about 35 ms of messages on a small machine before any
work, and a backward pass for a new rule or target. The pictures of the next step in
each direction are made while nothing else is asked, and the browser shows them the
moment the control changes; the kernel's own redraw follows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

from gbp_widgets.explore.names import ALL_CHANNELS
from gbp_widgets.explore.session import ExplorerSession, View

RENDER_AHEAD = ("display", "percentile", "site", "channel", "slice")
"""Traits drawn ahead that only re-render from the passes already made."""
BACKWARD_AHEAD = ("rule", "target")
"""Traits drawn ahead that need a backward pass each (``target``: a class, while the
target kind is ``"class"``)."""
AHEAD_TRAITS = RENDER_AHEAD + BACKWARD_AHEAD

# Targets that are picked at the site (a channel or a unit there): moving the site or the
# channel changes the target, so those views need a backward pass and are not drawn ahead.
SITE_TARGET_KINDS = ("channel", "unit")


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


def views_ahead(
    session: ExplorerSession, view: View, target_kind: str, candidates: Mapping[str, Sequence]
) -> Iterator[tuple[str, object, View]]:
    """``(trait, value, view)`` for each candidate value of each trait in
    ``AHEAD_TRAITS`` whose picture follows from that trait alone."""
    for name, values in candidates.items():
        if name not in AHEAD_TRAITS:
            raise ValueError(f"{name!r} is not drawn ahead: use one of {AHEAD_TRAITS}")
        if name in ("site", "channel") and target_kind in SITE_TARGET_KINDS:
            continue
        if name == "target" and target_kind != "class":
            continue
        for value in values:
            yield name, value, moved_view(session, view, name, value)
