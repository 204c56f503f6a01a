"""Clicks and keys on the Explorer's panels, as the trait changes they ask for.

Each function returns ``{trait: value}`` (empty when the place asks for nothing), or
raises ``ValueError`` saying what to do instead; the widget applies the changes
together, through the same checks as any other value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from gbp_widgets.explore.names import ALL_CHANNELS, SITE_PANELS
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.explore.view import View
from gbp_widgets.explore.words import unknown_class_message

# Arrow keys on a focused canvas: left/right step the channel (a token x unit grid's unit),
# up/down the site.
KEY_STEPS = {
    "ArrowLeft": ("channel", -1),
    "ArrowRight": ("channel", 1),
    "ArrowUp": ("site", -1),
    "ArrowDown": ("site", 1),
}
# The target kinds whose class the name box and the top-5 buttons show.
CLASS_KINDS = ("class", "region")
# The Deep Visualization Toolbox's key for holding the camera's frame.
FREEZE_KEYS = ("f", "F")


def panel_click(
    session: ExplorerSession,
    view: View,
    panel: str,
    row: int,
    column: int,
    size: int,
) -> dict[str, object]:
    """A click at pixel ``(row, column)`` of ``panel`` (``size`` pixels square). On a mask
    or the activation panel: the unit under it (at the chosen channel, or the most active
    one there when all are shown). On the output's own panels, what its kind says (a
    dense output's label map: the region of the class under it; a detector's input: the
    detection whose box holds it)."""
    own = session.output_kind.click(panel, row, column, size, view, session.photo().shape[:2])
    if own:
        return own
    if panel not in SITE_PANELS:
        return {}
    unit = session.unit_at(view, row, column, size)
    if unit is None:
        return {}
    channel, position = unit
    if channel is None:
        output = session.site_output(view.site)
        channel = int(output[(slice(None), *position)].argmax())
    return {"channel": channel, "unit": position, "target_kind": "unit"}


def grid_click(session: ExplorerSession, view: View, x: float, y: float) -> dict[str, object]:
    """A click at point ``(x, y)`` of the channel grid: the channel of that tile."""
    channel = session.shown.panels.grid_channel(view, int(y), int(x))
    return {} if channel is None else {"channel": channel}


def key_step(
    session: ExplorerSession,
    view: View,
    key: str,
    state: Mapping[str, object],
    channels: Sequence[int],
) -> dict[str, object]:
    """Key ``key`` on a focused canvas: the next or previous site, or the next or previous
    of ``channels`` in the channel menu's order (on a token x unit grid: of its unit
    columns, see :func:`unit_step`), kept at the ends; with the webcam on, ``f`` freezes
    the frame or lets the frames come again."""
    if key in FREEZE_KEYS and state["webcam"]:
        return {"freeze": not state["freeze"]}
    if key not in KEY_STEPS:
        return {}
    name, step = KEY_STEPS[key]
    if name == "site":
        sites = len(session.site_names)
        return {"site": min(max(state["site"] + step, 0), max(sites - 1, 0))}
    # The columns as the output's own pass ranks them: a unit's pass ranks its own first.
    output_view = replace(view, target=session.output_kind.output_target(state))
    units = session.grid_units(output_view)
    if units is not None:
        return unit_step(session, view, state, [int(u) for u in units], step)
    channel = state["channel"]
    at = list(channels).index(channel) if channel in channels else 0
    return {"channel": channels[min(max(at + step, 0), len(channels) - 1)]}


def unit_step(
    session: ExplorerSession, view: View, state: Mapping[str, object], units: list[int], step: int
) -> dict[str, object]:
    """Left or right on a token x unit grid: the unit of the next or previous column
    explained (the first column's when no unit is), at the token row shown, or else at
    the token where that unit is most active."""
    unit = state["unit"]
    now = unit[0] if state["target_kind"] == "unit" and len(unit) == 1 else None
    at = min(max(units.index(now) + step, 0), len(units) - 1) if now in units else 0
    token = state["channel"]
    if token == ALL_CHANNELS:
        token = int(session.site_output(view.site)[:, units[at]].argmax())
    return {"channel": token, "unit": (units[at],), "target_kind": "unit"}


def class_named(session: ExplorerSession, name: str, state: Mapping[str, object]) -> dict:
    """A class typed by name: explained as a class, or within the region explained if one
    is; ``ValueError`` with the closest names when there is none."""
    if name not in session.classes:
        raise ValueError(unknown_class_message(name, session.classes))
    return session.output_kind.class_picked(state, session.classes.index(name))
