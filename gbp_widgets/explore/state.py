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

from gbp_widgets.explore import checks, choices
from gbp_widgets.explore.checks import PERCENTILE_RANGE, Check
from gbp_widgets.explore.names import ALL_CHANNELS, PERCENTILE, SCORE_THRESHOLD
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.models import DEFAULT_MODEL


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


# The order is the order values are applied and settled in: what a check reads comes first.
STATE: dict[str, Row] = {
    "image": Row(
        "chelsea",
        "sample photo name (or a picture's path), or 'custom'",
        Value.TEXT,
        Effect.INPUT,
        checks.image,
        (Control("image", Widget.MENU, "image"),),
        choices=choices.samples,
        shown=choices.images,
        settle=choices.kept,
    ),
    "model_name": Row(
        DEFAULT_MODEL,
        "load_model name, or 'custom'",
        Value.TEXT,
        Effect.INPUT,
        checks.model_name,
        (Control("model", Widget.MENU, "model"),),
        choices=choices.models,
        settle=choices.kept,
    ),
    "activations": Row(
        "relu",
        "'relu' (the published method) or 'gated': GELU, SiLU, Mish and Hardswish sites "
        "too, their gate s(x) a soft forward mask (our extension)",
        Value.TEXT,
        Effect.INPUT,
        checks.activations,
        (Control("activations", Widget.MENU, "activations"),),
        choices=choices.activations,
    ),
    "layer": Row(
        "auto",
        "Grad-CAM layer: a module path or 'auto'",
        Value.TEXT,
        Effect.INPUT,
        checks.layer,
        (Control("layer", Widget.MENU, "CAM layer"),),
        choices=choices.layers,
        shown=choices.images,
    ),
    "item": Row(
        0,
        "which item of the inputs is shown",
        Value.WHOLE,
        Effect.INPUT,
        checks.item,
        (Control("item", Widget.SLIDER, "item"),),
        choices=choices.items,
        shown=lambda s: s.count > 1,
        settle=choices.kept,
        ahead=True,
    ),
    "input_index": Row(
        0,
        "which input's attribution is shown",
        Value.WHOLE,
        Effect.RENDER,
        checks.input_index,
        (Control("input_index", Widget.MENU, "input"),),
        choices=choices.inputs,
        shown=lambda s: len(s.views) > 1,
    ),
    "axis": Row(
        0,
        "volumes: the axis cut (0 depth, 1 height, 2 width)",
        Value.WHOLE,
        Effect.RENDER,
        checks.axis,
        (Control("axis", Widget.MENU, "cut along"),),
        choices=choices.axes,
        shown=choices.volumes,
    ),
    "slice": Row(
        0,
        "volumes: the index of the slice shown along axis",
        Value.WHOLE,
        Effect.RENDER,
        checks.slice,
        (Control("slice", Widget.SLIDER, "slice"),),
        choices=choices.slices,
        shown=choices.volumes,
        ahead=True,
        follows=("axis", "input_index"),
    ),
    "score_threshold": Row(
        SCORE_THRESHOLD,
        "detections scoring less are not shown",
        Value.NUMBER,
        Effect.BACKWARD,
        checks.score_threshold,
        (Control("score_threshold", Widget.NUMBER_SLIDER, "min score"),),
        bounds=(0.0, 1.0, 0.01),
        shown=choices.detector,
    ),
    "target_kind": Row(
        "class",
        "'class', 'channel' or 'unit' at the site, 'region' or 'detection'",
        Value.TEXT,
        Effect.BACKWARD,
        checks.target_kind,
        (Control("target_kind", Widget.BUTTONS, "explain"),),
        choices=choices.target_kinds,
        settle=choices.first_kind,
    ),
    "rule": Row(
        "guided",
        "gradient, deconvnet, guided or gradcam",
        Value.TEXT,
        Effect.BACKWARD,
        checks.rule,
        (Control("rule", Widget.BUTTONS),),
        choices=choices.rules,
        ahead=True,
    ),
    "display": Row(
        "gradient",
        "how the attribution is drawn",
        Value.TEXT,
        Effect.RENDER,
        checks.display,
        (Control("display", Widget.BUTTONS),),
        choices=choices.displays,
        ahead=True,
        follows=("input_index",),
    ),
    "percentile": Row(
        PERCENTILE,
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
        choices=choices.sites,
        ahead=True,
    ),
    "channel": Row(
        ALL_CHANNELS,
        "channel shown at the site; -1 for all",
        Value.WHOLE,
        Effect.RENDER,
        checks.channel,
        (Control("channel", Widget.MENU, "channel"),),
        choices=choices.channels,
        ahead=True,
        follows=("site", *choices.PASS_TRAITS),
    ),
    "target": Row(
        0,
        "class explained when target_kind is 'class': an index, or a name (kept as its index)",
        Value.CLASS,
        Effect.BACKWARD,
        checks.target,
        (Control("class_index", Widget.WHOLE_BOX, "class #"),),
        shown=lambda session: not choices.detector(session),
        settle=choices.predicted_class,
        ahead=True,
    ),
    "unit": Row(
        (),
        "position at the site of the unit explained, for 'unit'",
        Value.POSITION,
        Effect.BACKWARD,
        checks.unit,
        settle=choices.cleared(()),
    ),
    "region": Row(
        None,
        "Region(cls, mask), for 'region'",
        Value.REGION,
        Effect.BACKWARD,
        checks.region,
        settle=choices.cleared(None),
    ),
    "detection": Row(
        None,
        "detection index, for 'detection'",
        Value.MAYBE_WHOLE,
        Effect.BACKWARD,
        checks.detection,
        (Control("detection", Widget.MENU, "detection"),),
        choices=choices.detections,
        shown=choices.detector,
        settle=choices.best_detection,
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
    # The webcam's three toggles are drawn by the webcam bar (widgets/camera.py), which
    # also holds the camera, so they have no control of their own here.
    "webcam": Row(
        False,
        "explain the browser's camera, frame by frame, as it comes (image models)",
        Value.FLAG,
        Effect.RENDER,
        checks.webcam,
    ),
    "freeze": Row(
        False,
        "with the webcam: hold the frame shown, as an uploaded photo (the f key too)",
        Value.FLAG,
        Effect.RENDER,
        checks.anything,
    ),
    "follow_top": Row(
        True,
        "with the webcam: explain each frame's top class (off: the class chosen stays)",
        Value.FLAG,
        Effect.RENDER,
        checks.anything,
    ),
}


def problem(name: str, value: object, session: ExplorerSession, state: Mapping[str, object]) -> str:
    """What is wrong with ``value`` for trait ``name`` ("" when nothing is); ``state``
    holds the other traits' current values."""
    return STATE[name].check(session, state, value)


def traits_with(effect: Effect) -> tuple[str, ...]:
    return tuple(name for name, row in STATE.items() if row.effect is effect)


def options(name: str, session: ExplorerSession, state: Mapping[str, object]) -> list:
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
                fallback = options(name, session, new)[0][1]
            new[name] = fallback
    return new
