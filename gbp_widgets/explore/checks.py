"""The check of each Explorer trait: what is wrong with a value ("" when nothing is).

Each takes the session, the other traits' current values and the value; the table in
:mod:`gbp_widgets.explore.state` says which check a trait has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from gbp_widgets.engine import check_activations
from gbp_widgets.explore.names import ALL_CHANNELS, CUSTOM, TARGET_KIND_LABELS, choices_text
from gbp_widgets.explore.rules import RULES
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.images import SAMPLE_NAMES
from gbp_widgets.models import model_names
from gbp_widgets.text import TokenizerError, encode_text

PERCENTILE_RANGE = (90.0, 100.0)


Check = Callable[[ExplorerSession, Mapping[str, object], object], str]


def _int(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        return f"{name} must be a whole number, not {value!r}"
    return ""


def _in_range(name: str, value: object, count: int, what: str) -> str:
    return _int(name, value) or (
        "" if 0 <= value < count else f"{name} {value} is out of range: {what}"
    )


def item(session, state, value) -> str:
    n = session.count
    return _in_range("item", value, n, f"there are {n} items (0 to {n - 1})")


def text(session, state, value) -> str:
    if not isinstance(value, str):
        return f"text must be a str, not {type(value).__name__}"
    if not session.texts:
        return "" if value == "" else "text is for token models: give the Explorer a tokenizer="
    try:
        encode_text(session.tokenizer, value)
    except TokenizerError as err:
        return str(err)
    return ""


def grid_size(session, state, value) -> str:
    problem = _int("grid_size", value)
    if problem:
        return problem
    if value < 1:
        return f"grid_size {value} is out of range: a grid shows 1 channel or more"
    widest = session.widest_grid(state["input_index"])
    if session.site_names and value > widest:
        return f"grid_size {value} is out of range: no site here has more than {widest} to show"
    return ""


def target(session, state, value) -> str:
    return session.output_kind.check_class(value, session.classes)


def target_kind(session, state, value) -> str:
    kinds = session.target_kinds()
    if value in kinds:
        return ""
    if value in TARGET_KIND_LABELS:
        return f"target kind {value!r} does not fit this model: use {choices_text(kinds)}"
    return f"unknown target kind {value!r}: use {choices_text(kinds)}"


def activations(session, state, value) -> str:
    try:
        check_activations(value)
    except ValueError as err:
        return str(err)
    return ""


def rule(session, state, value) -> str:
    if value not in RULES:
        return f"unknown rule {value!r}: use one of {', '.join(RULES)}"
    return RULES[value].problem(session.one_photo)


def display(session, state, value) -> str:
    kind = session.kinds[state.get("input_index", 0)]
    if value in kind.displays:
        return ""
    return f"unknown display {value!r} for {kind.kind}s: use one of {', '.join(kind.displays)}"


def percentile(session, state, value) -> str:
    low, high = PERCENTILE_RANGE
    if isinstance(value, (int, float)) and low <= value <= high:
        return ""
    return f"clip percentile {value} must be between {low:g} and {high:g}"


def site(session, state, value) -> str:
    sites = len(session.site_names)
    return _in_range("site", value, max(sites, 1), f"this model has {sites} ReLU sites")


def channel(session, state, value) -> str:
    problem = _int("channel", value)
    if problem or value == ALL_CHANNELS:
        return problem
    count = session.channels(state["site"]) if session.site_names else 0
    return (
        ""
        if 0 <= value < count
        else (f"channel {value} is out of range: this site has {count} channels")
    )


def unit(session, state, value) -> str:
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


def region(session, state, value) -> str:
    if value is None:
        return ""
    return session.output_kind.check_region(value) or target(session, state, value.cls)


def detection(session, state, value) -> str:
    if value is None:
        return ""
    if not session.output_kind.boxes:
        return "detections are for torchvision detectors; this model's output is not one"
    threshold = state["score_threshold"]
    found = [d.index for d in session.detections(threshold)]
    if value in found:
        return ""
    return (
        f"no detection {value!r} scores at least {threshold:g}: choose one of {found}"
        if found
        else "there are no detections above the threshold"
    )


def score_threshold(session, state, value) -> str:
    if isinstance(value, (int, float)) and 0.0 <= value <= 1.0:
        return ""
    return f"score threshold {value} must be between 0 and 1"


def slice(session, state, value) -> str:
    extents = session.kinds[state.get("input_index", 0)].slices
    if not extents:
        return _int("slice", value) or ("" if value == 0 else "only volumes are sliced")
    extent = extents[state.get("axis", 0)]
    return _in_range("slice", value, extent, f"the volume has {extent} slices along this axis")


def axis(session, state, value) -> str:
    extents = session.kinds[state.get("input_index", 0)].slices
    return _in_range("axis", value, max(len(extents), 1), "volumes are cut along axis 0, 1 or 2")


def input_index(session, state, value) -> str:
    n = len(session.kinds)
    return _in_range("input", value, n, f"the model takes {n} inputs (0 to {n - 1})")


def anything(session, state, value) -> str:
    # Its trait's own type (True or False, say) is all there is to check.
    return ""


def webcam(session, state, value) -> str:
    if value and not session.one_photo:
        return (
            f"the webcam gives pictures, and this Explorer shows {session.kind} inputs: "
            "open it on an image model to use the webcam"
        )
    return ""


def image(session, state, value) -> str:
    # Any other text is a picture's path: whether it opens is known only by opening it.
    if isinstance(value, str) and value:
        return ""
    return f"image must be a sample name ({', '.join(SAMPLE_NAMES)}) or a path, not {value!r}"


def model_name(session, state, value) -> str:
    if value in (*model_names(), CUSTOM):
        return ""
    return f"no model {value!r}: choose one of {', '.join(model_names())}"


def layer(session, state, value) -> str:
    if value in ("auto", *session.layer_choices()):
        return ""
    module = dict(session.engine.model.named_modules()).get(value) if value else None
    if module is None:
        return f"no module called {value!r}: choose one from the layer menu"
    return (
        f"{value!r} is a {type(module).__name__}, which gives no feature map (channels over "
        "positions) for Grad-CAM to weight: choose a convolution or a block from the layer menu"
    )
