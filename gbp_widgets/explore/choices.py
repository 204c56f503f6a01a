"""What each Explorer trait may be for a session (``(label, value)`` pairs), whether its
controls apply, and where it goes when a new input no longer fits it.

Each function takes the session, and the traits' values as ``state`` where it reads
them; :mod:`gbp_widgets.explore.state` names them in its table. None runs a backward
pass: the channels are ranked by the pass the view shown was drawn from, once it is made.
"""

from __future__ import annotations

from collections.abc import Mapping

from gbp_widgets.explore.chosen import target_of
from gbp_widgets.explore.names import (
    ACTIVATION_LABELS,
    ALL_CHANNELS,
    CUSTOM,
    DISPLAY_LABELS,
    TARGET_KIND_LABELS,
)
from gbp_widgets.explore.rules import RULES
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.images import SAMPLE_NAMES
from gbp_widgets.models import model_names

State = Mapping[str, object]
Options = list[tuple[str, object]]

AXES: Options = [("depth", 0), ("height", 1), ("width", 2)]


def _named(names) -> Options:
    return [(name, name) for name in names]


def _numbers(count: int) -> Options:
    return [(str(i), i) for i in range(max(count, 1))]


def images(session: ExplorerSession) -> bool:
    """Whether the session shows one photo (pictures, uploads and Grad-CAM apply)."""
    return session.one_photo


def texts(session: ExplorerSession) -> bool:
    """Whether the session shows a text it can tokenise (the text box applies)."""
    return session.texts


def detector(session: ExplorerSession) -> bool:
    return session.output_kind.boxes


def volumes(session: ExplorerSession) -> bool:
    return any(kind.slices for kind in session.kinds)


def samples(session: ExplorerSession, state: State) -> Options:
    return _named((*SAMPLE_NAMES, CUSTOM))


def models(session: ExplorerSession, state: State) -> Options:
    return _named((*model_names(), CUSTOM))


def layers(session: ExplorerSession, state: State) -> Options:
    return _named(("auto", *session.layer_choices()))


def items(session: ExplorerSession, state: State) -> Options:
    return _numbers(session.count)


def inputs(session: ExplorerSession, state: State) -> Options:
    return [(f"input {i}: {kind.kind} {kind.shape}", i) for i, kind in enumerate(session.kinds)]


def axes(session: ExplorerSession, state: State) -> Options:
    return AXES


def slices(session: ExplorerSession, state: State) -> Options:
    extents = session.kinds[state["input_index"]].slices
    return _numbers(extents[state["axis"]] if extents else 1)


def target_kinds(session: ExplorerSession, state: State) -> Options:
    labels = {**TARGET_KIND_LABELS, **session.output_kind.target_labels}
    return [(labels[kind], kind) for kind in session.target_kinds()]


def activations(session: ExplorerSession, state: State) -> Options:
    return [(label, value) for value, label in ACTIVATION_LABELS.items()]


def rules(session: ExplorerSession, state: State) -> Options:
    return [(r.label, name) for name, r in RULES.items() if not r.problem(session.one_photo)]


def displays(session: ExplorerSession, state: State) -> Options:
    kind = session.kinds[state["input_index"]]
    return [(kind.display_labels.get(d, DISPLAY_LABELS[d]), d) for d in kind.displays]


def top_classes(session: ExplorerSession, state: State) -> Options:
    """The five most probable classes, with their probabilities (the top-5 buttons), within
    the region explained if one is (next-token scores: the tokens most likely to follow)."""
    top = session.top_classes(5, region=session.output_kind.where(state))
    return [(f"{n} {100 * p:.1f}%", i) for i, n, p in top] or [("-", 0)]


def sites(session: ExplorerSession, state: State) -> Options:
    return [(name, i) for i, name in enumerate(session.site_names)] or [("-", 0)]


def channels(session: ExplorerSession, state: State) -> Options:
    """All channels, then the site's channels ranked by how much the pass of the view
    lets through, once that pass is made."""
    options: Options = [(f"all {session.kinds[state['input_index']].site_rows}s", ALL_CHANNELS)]
    # Until the pass is made the channel chosen is listed unranked, so the menu still
    # shows it after a new input settles it (a choice never makes a pass to rank it).
    chosen = [(f"{state['channel']}", state["channel"])] if state["channel"] != ALL_CHANNELS else []
    try:
        target = target_of(session, state, made_only=True)
    except (ValueError, LookupError):
        # Nothing to explain (no detection above the threshold), or not drawn yet.
        return options + chosen
    if session.site_names and session.has_pass(target, state["rule"]):
        ranking = session.channel_ranking(session.result(target, state["rule"]), state["site"])
        return options + [(f"{c}: {100 * share:.0f}% pass", c) for c, share in ranking]
    return options + chosen


def detections(session: ExplorerSession, state: State) -> Options:
    found = session.detections(state["score_threshold"])
    return [(f"#{d.index} {session.class_name(d.label)} {d.score:.2f}", d.index) for d in found]


def kept(session: ExplorerSession, state: State, value: object) -> object:
    """A value chosen with the input itself (the image, model or item): kept."""
    return value


def best_detection(session: ExplorerSession, state: State, value: object) -> object:
    """The detection kept while it scores enough, else the best one, else none."""
    found = [index for _, index in detections(session, state)]
    return value if value in found else (found[0] if found else None)


def first_kind(session: ExplorerSession, state: State, value: object) -> object:
    # A region or detection belongs to the item it was picked on.
    kinds = session.target_kinds()
    return value if value in kinds and value not in ("region", "detection") else kinds[0]


def predicted_class(session: ExplorerSession, state: State, value: object) -> object:
    """A new item explains its own top class, a region its own class (a detector's target
    is its detection)."""
    if detector(session):
        return value
    region = session.output_kind.where(state)
    return session.first_class() if region is None else region.cls


def region_kept(session: ExplorerSession, state: State, value: object) -> object:
    """The region kept while it is explained: one picked on another input, or left for
    another kind of target, means nothing any more."""
    return value if state["target_kind"] == "region" else None


def grid_kept(session: ExplorerSession, state: State, value: object) -> object:
    """The grid's size kept where a site has that many channels, else the most one has."""
    return min(value, session.widest_grid(state["input_index"])) if session.site_names else value


def cleared(empty: object):
    """Back to ``empty``: a unit picked on another input means nothing here."""
    return lambda session, state, value: empty
