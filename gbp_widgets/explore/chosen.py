"""From the Explorer's trait values to what is explained and drawn: the target, the view.

``state`` is a mapping of every trait in :data:`gbp_widgets.explore.state.STATE` to its
value, as the widget holds them; nothing here knows a widget.
"""

from __future__ import annotations

from collections.abc import Mapping

from gbp_widgets.engine import Neuron
from gbp_widgets.explore import checks
from gbp_widgets.explore.names import ALL_CHANNELS
from gbp_widgets.explore.outputs import Detections, DetectionScore
from gbp_widgets.explore.passes import Target, View
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.explore.views import Cut

# Target kinds picked at a site: the site and channel traits are part of the target.
SITE_TARGET_KINDS = ("channel", "unit")


def backward_rule(rule: str) -> str:
    """The engine rule behind an Explorer rule: Guided Grad-CAM weights a guided pass."""
    return "guided" if rule == "gradcam" else rule


def output_target(session: ExplorerSession, state: Mapping[str, object]) -> Target:
    """What is explained at the output: the region, detection or class chosen."""
    if state["target_kind"] == "region" and state["region"] is not None:
        return state["region"]
    if isinstance(session.output_kind, Detections):
        if state["detection"] is None:
            raise ValueError(
                f"no detection scores at least {state['score_threshold']:g}: lower the min score"
            )
        return DetectionScore(state["detection"])
    return session.class_target(state["target"])


def top_channel(session: ExplorerSession, state: Mapping[str, object]) -> int:
    """The channel the guided pass for the output target lets most through at the site."""
    result = session.result(output_target(session, state), "guided")
    return session.channel_ranking(result, state["site"])[0][0]


def target_of(session: ExplorerSession, state: Mapping[str, object]) -> Target:
    """The engine target for ``state``: a class (or its region), a detection, or a
    :class:`Neuron` at the site for the ``"channel"`` and ``"unit"`` kinds."""
    kind = state["target_kind"]
    if kind not in SITE_TARGET_KINDS or not session.site_names:
        return output_target(session, state)
    name = session.site_names[state["site"]]
    channel = state["channel"]
    if channel == ALL_CHANNELS:
        channel = top_channel(session, state)
    unit = state["unit"]
    # After a site change the unit may not be a position there: the channel is explained.
    if kind == "channel" or not unit or checks.unit(session, state, unit):
        return Neuron(name, channel)
    if len(unit) == 2:
        return Neuron(name, channel, y=unit[0], x=unit[1])
    return Neuron(name, channel, position=unit)


def view_of(session: ExplorerSession, state: Mapping[str, object]) -> View:
    """Everything that selects the pictures for ``state``."""
    shown = session.views[state["input_index"]]
    chosen: object = state["region"] if state["target_kind"] == "region" else None
    if isinstance(session.output_kind, Detections):
        chosen = state["detection"]
    axis = state["axis"]
    return View(
        target=target_of(session, state),
        rule=state["rule"],
        display=state["display"],
        percentile=state["percentile"],
        site=state["site"],
        channel=state["channel"],
        cut=Cut(axis, state["slice"], shown.slices[axis] if shown.slices else 1),
        input_index=state["input_index"],
        score_threshold=state["score_threshold"],
        chosen=chosen,
    )
