"""The Explorer's state as one table: a row per trait, everything the package knows of it.

Each :class:`Row` says the trait's default and help, the kind of value it holds, what a
change costs, its check, its controls, its choices for a session and where it goes when
a new input no longer fits it. The widget's traits and controls, the constructor's
keyword checks and the pictures ahead are all made from :data:`STATE`; adding a trait
is a row here plus the code that draws it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gbp_widgets.explore import checks
from gbp_widgets.explore.checks import PERCENTILE_RANGE, Check
from gbp_widgets.explore.chosen import backward_rule, target_of
from gbp_widgets.explore.names import (
    ALL_CHANNELS,
    CUSTOM,
    DISPLAY_LABELS,
    RULE_LABELS,
    TARGET_KIND_LABELS,
)
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.images import SAMPLE_NAMES
from gbp_widgets.models import DEFAULT_MODEL, model_names


class Effect(enum.Enum):
    """What a change of the trait costs."""

    INPUT = "a forward pass"
    BACKWARD = "a backward pass"
    RENDER = "a new picture only"


class Value(enum.Enum):
    """The kind of value a trait holds (the widget makes the matching traitlet)."""

    WHOLE = "a whole number"
    MAYBE_WHOLE = "a whole number or None"
    NUMBER = "a number"
    TEXT = "text"
    FLAG = "True or False"
    POSITION = "a tuple of whole numbers"
    REGION = "a Region or None"
    CLASS = "a class index or name"


class Widget(enum.Enum):
    """The kind of control a trait is set with in the notebook."""

    MENU = "menu"
    BUTTONS = "buttons"
    SLIDER = "slider"
    NUMBER_SLIDER = "number slider"
    WHOLE_BOX = "whole-number box"
    TOGGLE = "toggle"


@dataclass(frozen=True)
class Control:
    """One control of a trait: its attribute name on the controls, kind and label."""

    name: str
    widget: Widget
    label: str = ""


Choices = Callable[[ExplorerSession, Mapping[str, object]], list[tuple[str, object]]]
Shown = Callable[[ExplorerSession], bool]
Settle = Callable[[ExplorerSession, Mapping[str, object], object], object]


@dataclass(frozen=True)
class Row:
    """One trait of the Explorer.

    ``choices`` lists ``(label, value)`` for menus, buttons and sliders (a slider spans
    the values); ``bounds`` is ``(low, high, step)`` for a number slider; ``shown`` says
    whether the controls are shown for a session; ``settle`` is the value after a new
    input (by default kept where its check passes, else the default, else the first
    choice).
    """

    default: object
    help: str
    value: Value
    effect: Effect
    check: Check
    controls: tuple[Control, ...] = ()
    choices: Choices | None = None
    bounds: tuple[float, float, float] | None = None
    shown: Shown | None = None
    settle: Settle | None = None
    follows: tuple[str, ...] = ()
    ahead: bool = False


AXES = [("depth", 0), ("height", 1), ("width", 2)]


def _images(session) -> bool:
    return session.kind == "image" and not session.as_tuple


def _detector(session) -> bool:
    return session.output_kind == "detection"


def _extent(session, state) -> int:
    slices = session.views[state["input_index"]].slices
    return slices[state["axis"]] if slices else 1


def _numbers(count: int) -> list[tuple[str, int]]:
    return [(str(i), i) for i in range(max(count, 1))]


def _channel_choices(session, state) -> list[tuple[str, object]]:
    """All channels, then the site's channels ranked by how much the pass lets through."""
    options: list[tuple[str, object]] = [("all channels", ALL_CHANNELS)]
    try:
        target = target_of(session, state)
    except ValueError:
        # Nothing to explain (no detection above the threshold): the redraw says so.
        return options
    if session.site_names:
        result = session.result(target, backward_rule(state["rule"]))
        ranking = session.channel_ranking(result, state["site"])
        options += [(f"{c}: {100 * share:.0f}% pass", c) for c, share in ranking]
    return options


def _detection_choices(session, state) -> list[tuple[str, object]]:
    if not _detector(session):
        return []
    found = session.top_classes(len(session.detections()))
    return [(f"#{index} {name} {score:.2f}", index) for index, name, score in found]


def _first_detection(session, state, value) -> object:
    if not _detector(session):
        return None
    found = [index for _, index in _detection_choices(session, state)]
    return value if value in found else (found[0] if found else None)


def _first_kind(session, state, value) -> object:
    # A region or detection belongs to the item it was picked on.
    kinds = session.target_kinds()
    return value if value in kinds and value not in ("region", "detection") else kinds[0]


def _class(session, state, value) -> object:
    return value if _detector(session) else session.first_class()


# What selects the backward pass, and so the channels' ranking at a site.
_PASS_TRAITS = ("score_threshold", "target_kind", "rule", "target", "unit", "region", "detection")


def _cleared(empty: object) -> Settle:
    return lambda session, state, value: empty


# The order is the order values are applied and settled in: what a check reads comes first.
STATE: dict[str, Row] = {
    "image": Row(
        "chelsea",
        "sample photo name (or a picture's path), or 'custom'",
        Value.TEXT,
        Effect.INPUT,
        checks.image,
        (Control("image", Widget.MENU, "image"),),
        choices=lambda s, st: [(n, n) for n in (*SAMPLE_NAMES, CUSTOM)],
        shown=lambda s: _images(s),
        settle=lambda s, st, v: v,
    ),
    "model_name": Row(
        DEFAULT_MODEL,
        "load_model name, or 'custom'",
        Value.TEXT,
        Effect.INPUT,
        checks.model_name,
        (Control("model", Widget.MENU, "model"),),
        choices=lambda s, st: [(n, n) for n in (*model_names(), CUSTOM)],
        settle=lambda s, st, v: v,
    ),
    "layer": Row(
        "auto",
        "Grad-CAM layer: a module path or 'auto'",
        Value.TEXT,
        Effect.INPUT,
        checks.layer,
        (Control("layer", Widget.MENU, "CAM layer"),),
        choices=lambda s, st: [(n, n) for n in ("auto", *s.layer_choices())],
        shown=lambda s: _images(s),
    ),
    "item": Row(
        0,
        "which item of the inputs is shown",
        Value.WHOLE,
        Effect.INPUT,
        checks.item,
        (Control("item", Widget.SLIDER, "item"),),
        choices=lambda s, st: _numbers(s.count),
        shown=lambda s: s.count > 1,
        settle=lambda s, st, v: v,
        ahead=True,
    ),
    "input_index": Row(
        0,
        "which input's attribution is shown",
        Value.WHOLE,
        Effect.RENDER,
        checks.input_index,
        (Control("input_index", Widget.MENU, "input"),),
        choices=lambda s, st: [
            (f"input {i}: {view.kind} {view.shape}", i) for i, view in enumerate(s.views)
        ],
        shown=lambda s: len(s.views) > 1,
    ),
    "axis": Row(
        0,
        "volumes: the axis cut (0 depth, 1 height, 2 width)",
        Value.WHOLE,
        Effect.RENDER,
        checks.axis,
        (Control("axis", Widget.MENU, "cut along"),),
        choices=lambda s, st: AXES,
        shown=lambda s: any(view.kind == "volume" for view in s.views),
    ),
    "slice": Row(
        0,
        "volumes: the index of the slice shown along axis",
        Value.WHOLE,
        Effect.RENDER,
        checks.slice,
        (Control("slice", Widget.SLIDER, "slice"),),
        choices=lambda s, st: _numbers(_extent(s, st)),
        shown=lambda s: any(view.kind == "volume" for view in s.views),
        ahead=True,
        follows=("axis", "input_index"),
    ),
    "score_threshold": Row(
        0.5,
        "detections scoring less are not shown",
        Value.NUMBER,
        Effect.BACKWARD,
        checks.score_threshold,
        (Control("score_threshold", Widget.NUMBER_SLIDER, "min score"),),
        bounds=(0.0, 1.0, 0.01),
        shown=_detector,
    ),
    "target_kind": Row(
        "class",
        "'class', 'channel' or 'unit' at the site, 'region' or 'detection'",
        Value.TEXT,
        Effect.BACKWARD,
        checks.target_kind,
        (Control("target_kind", Widget.BUTTONS, "explain"),),
        choices=lambda s, st: [(TARGET_KIND_LABELS[k], k) for k in s.target_kinds()],
        settle=_first_kind,
    ),
    "rule": Row(
        "guided",
        "gradient, deconvnet, guided or gradcam",
        Value.TEXT,
        Effect.BACKWARD,
        checks.rule,
        (Control("rule", Widget.BUTTONS),),
        choices=lambda s, st: [
            (label, rule) for rule, label in RULE_LABELS.items() if rule != "gradcam" or _images(s)
        ],
        ahead=True,
    ),
    "display": Row(
        "gradient",
        "how the attribution is drawn",
        Value.TEXT,
        Effect.RENDER,
        checks.display,
        (Control("display", Widget.BUTTONS),),
        choices=lambda s, st: [(DISPLAY_LABELS[d], d) for d in s.views[st["input_index"]].displays],
        ahead=True,
        follows=("input_index",),
    ),
    "percentile": Row(
        99.0,
        "percentile of |attribution| that saturates",
        Value.NUMBER,
        Effect.RENDER,
        checks.percentile,
        (Control("percentile", Widget.NUMBER_SLIDER, "clip %"),),
        bounds=(*PERCENTILE_RANGE, 0.1),
        ahead=True,
    ),
    "site": Row(
        0,
        "index of the ReLU site shown, in forward order",
        Value.WHOLE,
        Effect.RENDER,
        checks.site,
        (Control("site_slider", Widget.SLIDER, "site"), Control("site_name", Widget.MENU)),
        choices=lambda s, st: [(n, i) for i, n in enumerate(s.site_names)] or [("-", 0)],
        ahead=True,
    ),
    "channel": Row(
        ALL_CHANNELS,
        "channel shown at the site; -1 for all",
        Value.WHOLE,
        Effect.RENDER,
        checks.channel,
        (Control("channel", Widget.MENU, "channel"),),
        choices=_channel_choices,
        ahead=True,
        follows=("site", *_PASS_TRAITS),
    ),
    "target": Row(
        0,
        "class explained when target_kind is 'class': an index, or a name (kept as its index)",
        Value.CLASS,
        Effect.BACKWARD,
        checks.target,
        (Control("class_index", Widget.WHOLE_BOX, "class #"),),
        shown=lambda s: not _detector(s),
        settle=_class,
        ahead=True,
    ),
    "unit": Row(
        (),
        "position at the site of the unit explained, for 'unit'",
        Value.POSITION,
        Effect.BACKWARD,
        checks.unit,
        settle=_cleared(()),
    ),
    "region": Row(
        None,
        "Region(cls, mask), for 'region'",
        Value.REGION,
        Effect.BACKWARD,
        checks.region,
        settle=_cleared(None),
    ),
    "detection": Row(
        None,
        "detection index, for 'detection'",
        Value.MAYBE_WHOLE,
        Effect.BACKWARD,
        checks.detection,
        (Control("detection", Widget.MENU, "detection"),),
        choices=_detection_choices,
        shown=_detector,
        settle=_first_detection,
        follows=("score_threshold",),
    ),
    "compare": Row(
        False,
        "show Gradient, DeconvNet and Guided side by side",
        Value.FLAG,
        Effect.RENDER,
        checks.anything,
        (Control("compare", Widget.TOGGLE, "compare rules"),),
    ),
}


def problem(name: str, value: object, session: ExplorerSession, state: Mapping[str, object]) -> str:
    """What is wrong with ``value`` for trait ``name`` ("" when nothing is); ``state``
    holds the other traits' current values."""
    return STATE[name].check(session, state, value)


def traits_with(effect: Effect) -> tuple[str, ...]:
    return tuple(name for name, row in STATE.items() if row.effect is effect)


def choices(name: str, session: ExplorerSession, state: Mapping[str, object]) -> list:
    """``(label, value)`` pairs trait ``name`` may take for ``session`` (none when free)."""
    row = STATE[name]
    return [] if row.choices is None else row.choices(session, state)


def settled(
    session: ExplorerSession,
    state: Mapping[str, object],
    names: tuple[str, ...] | None = None,
) -> dict[str, object]:
    """The traits' values after a new input, model or item (``names``: only those
    traits, after a change they follow): each row settled in order, seeing the values
    settled before it."""
    new = dict(state)
    for name, row in STATE.items():
        if names is not None and name not in names:
            continue
        value = new[name]
        if row.settle is not None:
            new[name] = row.settle(session, new, value)
        elif row.check(session, new, value):
            fallback = row.default
            if row.check(session, new, fallback):
                fallback = choices(name, session, new)[0][1]
            new[name] = fallback
    return new
