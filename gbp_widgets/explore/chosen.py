"""From the Explorer's trait values to what is explained and drawn: the target, the view.

``state`` is a mapping of every trait in the state table to its value, as the widget holds
them; nothing here knows a widget.
"""

from __future__ import annotations

from collections.abc import Mapping

from gbp_widgets.engine import Neuron
from gbp_widgets.explore import checks
from gbp_widgets.explore.moves import SITE_TARGET_KINDS
from gbp_widgets.explore.names import ALL_CHANNELS
from gbp_widgets.explore.rules import RANKING
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.explore.table import StateTable
from gbp_widgets.explore.view import Target, View

State = Mapping[str, object]


def top_channel(session: ExplorerSession, state: State, made_only: bool = False) -> int:
    """The channel the ranking rule's pass for the output target lets most through at the
    site; with ``made_only``, ``LookupError`` unless that pass is made already."""
    target = session.output_kind.output_target(state)
    if made_only and not session.has_pass(target, RANKING.name):
        raise LookupError("the pass that ranks the channels is not made yet")
    result = session.result(target, RANKING.name)
    return session.channel_ranking(result, state["site"])[0][0]


def target_of(session: ExplorerSession, state: State, made_only: bool = False) -> Target:
    """The engine target for ``state``: a class (or its region), a detection, or a
    :class:`Neuron` at the site for the ``"channel"`` and ``"unit"`` kinds (with
    ``made_only``, ``LookupError`` where that would take a backward pass)."""
    picked = state["target_kind"]
    if picked not in SITE_TARGET_KINDS or not session.site_names:
        return session.output_kind.output_target(state)
    name = session.site_names[state["site"]]
    channel = state["channel"]
    if channel == ALL_CHANNELS:
        channel = top_channel(session, state, made_only)
    unit = state["unit"]
    # After a site change the unit may not be a position there: the channel is explained.
    if picked == "channel" or not unit or checks.unit(session, state, unit):
        return Neuron(name, channel)
    if len(unit) == 2:
        return Neuron(name, channel, y=unit[0], x=unit[1])
    return Neuron(name, channel, position=unit)


def view_of(table: StateTable, session: ExplorerSession, state: State) -> View:
    """Everything that selects the pictures for ``state``: the target, what the output
    singles out, and each trait's value put in by its row."""
    first = View(target=target_of(session, state), chosen=session.output_kind.chosen(state))
    return table.view(session, state, first)
