"""The Explorer's state, as one table: each trait, what a change costs, and its check.

Values set from code and from controls alike go through :func:`problem`; the
Explorer keeps the old value and shows the message when it is not empty.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from gbp_widgets.engine import Region
from gbp_widgets.explore.names import (
    ALL_CHANNELS,
    CUSTOM,
    EXPLORER_RULES,
    TARGET_KIND_LABELS,
    choices_text,
)
from gbp_widgets.explore.outputs import unknown_class_message
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.images import SAMPLE_NAMES
from gbp_widgets.models import model_names

PERCENTILE_RANGE = (90.0, 100.0)


class Effect(enum.Enum):
    """What a change of the trait costs."""

    INPUT = "a forward pass"
    BACKWARD = "a backward pass"
    RENDER = "a new picture only"


Check = Callable[[ExplorerSession, Mapping[str, object], object], str]


@dataclass(frozen=True)
class StateTrait:
    effect: Effect
    check: Check


def _int(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        return f"{name} must be a whole number, not {value!r}"
    return ""


def _in_range(name: str, value: object, count: int, what: str) -> str:
    return _int(name, value) or (
        "" if 0 <= value < count else f"{name} {value} is out of range: {what}"
    )


def _item(session, state, value) -> str:
    n = session.count
    return _in_range("item", value, n, f"there are {n} items (0 to {n - 1})")


def _target(session, state, value) -> str:
    k = len(session.classes)
    if session.output_kind == "detection":
        return ""
    if isinstance(value, str):
        return "" if value in session.classes else unknown_class_message(value, session.classes)
    return _in_range("class", value, k, f"this model has {k} (0 to {k - 1})")


def _target_kind(session, state, value) -> str:
    kinds = session.target_kinds()
    if value in kinds:
        return ""
    if value in TARGET_KIND_LABELS:
        return f"target kind {value!r} does not fit this model: use {choices_text(kinds)}"
    return f"unknown target kind {value!r}: use {choices_text(kinds)}"


def _rule(session, state, value) -> str:
    if value not in EXPLORER_RULES:
        return f"unknown rule {value!r}: use one of {', '.join(EXPLORER_RULES)}"
    if value == "gradcam" and (session.kind != "image" or session.as_tuple):
        return "Guided Grad-CAM needs a feature map of an image model: choose another rule"
    return ""


def _display(session, state, value) -> str:
    view = session.views[state.get("input_index", 0)]
    if value in view.displays:
        return ""
    return f"unknown display {value!r} for {view.kind}s: use one of {', '.join(view.displays)}"


def _percentile(session, state, value) -> str:
    low, high = PERCENTILE_RANGE
    if isinstance(value, (int, float)) and low <= value <= high:
        return ""
    return f"clip percentile {value} must be between {low:g} and {high:g}"


def _site(session, state, value) -> str:
    sites = len(session.site_names)
    return _in_range("site", value, max(sites, 1), f"this model has {sites} ReLU sites")


def _channel(session, state, value) -> str:
    problem = _int("channel", value)
    if problem or value == ALL_CHANNELS:
        return problem
    count = session.channels(state["site"]) if session.site_names else 0
    return (
        ""
        if 0 <= value < count
        else (f"channel {value} is out of range: this site has {count} channels")
    )


def _unit(session, state, value) -> str:
    if value == ():
        return ""
    if not isinstance(value, tuple) or any(_int("unit", v) for v in value):
        return f"unit must be a tuple of whole numbers (a position at the site), not {value!r}"
    if not session.site_names:
        return "this model has no ReLU sites, so there is no unit to explain"
    spatial = session.site_shape(state["site"])[1:]
    if len(value) != len(spatial) or not all(
        0 <= v < s for v, s in zip(value, spatial, strict=True)
    ):
        where = " x ".join(map(str, spatial)) or "no positions"
        return (
            f"unit {value} is not a position at {session.site_names[state['site']]}, "
            f"whose positions are {where}"
        )
    return ""


def _region(session, state, value) -> str:
    if value is None:
        return ""
    if session.output_kind != "dense":
        return "regions are for dense outputs (N, K, *positions); this model's output is not"
    if not isinstance(value, Region) or value.mask is None:
        return "region must be a Region(cls, mask) with a bool mask of the output's positions"
    spatial = tuple(session.recording.logits.shape[2:])
    mask = np.asarray(value.mask)
    if mask.dtype != bool or mask.shape != spatial or not mask.any():
        return (
            f"the region's mask must be a bool array of shape {spatial} with at least one "
            f"position on; it has dtype {mask.dtype} and shape {mask.shape}"
        )
    return _target(session, state, value.cls)


def _detection(session, state, value) -> str:
    if value is None:
        return ""
    found = [d.index for d in session.detections()]
    if value in found:
        return ""
    return (
        f"no detection {value!r} scores at least {session.score_threshold:g}: choose one of {found}"
        if found
        else "there are no detections above the threshold"
    )


def _score_threshold(session, state, value) -> str:
    if isinstance(value, (int, float)) and 0.0 <= value <= 1.0:
        return ""
    return f"score threshold {value} must be between 0 and 1"


def _slice(session, state, value) -> str:
    extents = session.views[state.get("input_index", 0)].slices
    if not extents:
        return _int("slice", value) or ("" if value == 0 else "only volumes are sliced")
    extent = extents[state.get("axis", 0)]
    return _in_range("slice", value, extent, f"the volume has {extent} slices along this axis")


def _axis(session, state, value) -> str:
    extents = session.views[state.get("input_index", 0)].slices
    return _in_range("axis", value, max(len(extents), 1), "volumes are cut along axis 0, 1 or 2")


def _input_index(session, state, value) -> str:
    n = len(session.views)
    return _in_range("input", value, n, f"the model takes {n} inputs (0 to {n - 1})")


def _anything(session, state, value) -> str:
    return ""


def _menu(name: str, what: str, choices: Callable[[ExplorerSession], tuple]) -> Check:
    def check(session, state, value) -> str:
        if value in choices(session):
            return ""
        return f"no {what} {value!r}: choose one from the {name} menu"

    return check


def _layer(session, state, value) -> str:
    if value in ("auto", *session.layer_choices()):
        return ""
    module = dict(session.engine.model.named_modules()).get(value) if value else None
    if module is None:
        return f"no module called {value!r}: choose one from the layer menu"
    return (
        f"{value!r} is a {type(module).__name__}, which gives no feature map (channels over "
        "positions) for Grad-CAM to weight: choose a convolution or a block from the layer menu"
    )


# The order is the order the constructor applies them in: what a check reads comes first.
STATE: dict[str, StateTrait] = {
    "image": StateTrait(
        Effect.INPUT, _menu("image", "sample image", lambda s: (*SAMPLE_NAMES, CUSTOM))
    ),
    "model_name": StateTrait(
        Effect.INPUT, _menu("model", "model", lambda s: (*model_names(), CUSTOM))
    ),
    "layer": StateTrait(Effect.INPUT, _layer),
    "item": StateTrait(Effect.INPUT, _item),
    "input_index": StateTrait(Effect.RENDER, _input_index),
    "axis": StateTrait(Effect.RENDER, _axis),
    "slice": StateTrait(Effect.RENDER, _slice),
    "score_threshold": StateTrait(Effect.BACKWARD, _score_threshold),
    "target_kind": StateTrait(Effect.BACKWARD, _target_kind),
    "rule": StateTrait(Effect.BACKWARD, _rule),
    "display": StateTrait(Effect.RENDER, _display),
    "percentile": StateTrait(Effect.RENDER, _percentile),
    "site": StateTrait(Effect.RENDER, _site),
    "channel": StateTrait(Effect.RENDER, _channel),
    "target": StateTrait(Effect.BACKWARD, _target),
    "unit": StateTrait(Effect.BACKWARD, _unit),
    "region": StateTrait(Effect.BACKWARD, _region),
    "detection": StateTrait(Effect.BACKWARD, _detection),
    "compare": StateTrait(Effect.RENDER, _anything),
}


def problem(name: str, value: object, session: ExplorerSession, state: Mapping[str, object]) -> str:
    """What is wrong with ``value`` for trait ``name`` ("" when nothing is); ``state``
    holds the other traits' current values."""
    return STATE[name].check(session, state, value)


def traits_with(effect: Effect) -> tuple[str, ...]:
    return tuple(name for name, trait in STATE.items() if trait.effect is effect)
