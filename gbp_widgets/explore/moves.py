"""How a trait's value moves the :class:`View`, where that is more than setting a field of the
same name, and when a trait's pictures can be drawn ahead. The state table names them in its
rows (``to_view`` and ``ahead``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from gbp_widgets.explore.names import ALL_CHANNELS
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.explore.view import Cut, View

# Target kinds picked at a site: the site and channel traits are part of the target.
SITE_TARGET_KINDS = ("channel", "unit")


def site_moved(session: ExplorerSession, view: View, site: int) -> View:
    """A new site keeps the channel only where that site has it."""
    channel = view.channel
    if channel != ALL_CHANNELS and channel >= session.channels(site):
        channel = ALL_CHANNELS
    return replace(view, site=site, channel=channel)


def axis_moved(session: ExplorerSession, view: View, axis: int) -> View:
    """A volume cut along ``axis`` of the input shown (its extent along it kept with it)."""
    extents = session.kinds[view.input_index].slices
    return replace(view, cut=Cut(axis, view.cut.index, extents[axis] if extents else 1))


def slice_moved(session: ExplorerSession, view: View, index: int) -> View:
    return replace(view, cut=replace(view.cut, index=index))


def class_moved(session: ExplorerSession, view: View, cls: int) -> View:
    """Class ``cls`` explained, as the output means it (a class, or its region)."""
    return replace(view, target=session.class_target(cls))


def item_pictures(session: ExplorerSession, view: View, item: int, size: int) -> dict:
    """The panels after a move to ``item``: ``view``'s choices, the target the item's own
    top class (as the Explorer picks it for a new item, while the target kind is
    ``"class"``)."""
    with session.another_item(item):
        target = session.class_target(session.first_class())
        return session.panels(replace(view, target=target), size, grid=False)


def output_picked(state: Mapping[str, object]) -> bool:
    """Whether the target is picked at the output: a target picked at the site moves with
    the site and channel, a backward pass each."""
    return state["target_kind"] not in SITE_TARGET_KINDS


def class_picked(state: Mapping[str, object]) -> bool:
    """Whether the target is a class (a new item picks its own)."""
    return state["target_kind"] == "class"
