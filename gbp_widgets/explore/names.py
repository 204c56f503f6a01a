"""Every name a person reads for a choice, defined once: activations, displays, target
kinds, panels. The CLI, the controls, the captions and the checks all read these (the
rules' names are their table's, :mod:`gbp_widgets.explore.rules`; the kinds' are their
classes')."""

from __future__ import annotations

# The activations menu: the engine's choices in words.
ACTIVATION_LABELS: dict[str, str] = {"relu": "ReLU family", "gated": "+ gates (ours)"}
# Said wherever maps made with activations="gated" are shown: what they are and are not.
GATED_NOTE = (
    "activations='gated': GELU, SiLU, Mish and Hardswish pass through their gates s(x), "
    "our extension of the published method"
)
DISPLAY_LABELS: dict[str, str] = {
    "gradient": "gradient image",
    "saliency": "saliency",
    "positive": "positive",
    "negative": "negative",
    "overlay": "overlay",
}

# Target kind -> label. Which kinds a model offers depends on its output
# (see ExplorerSession.target_kinds).
TARGET_KIND_LABELS: dict[str, str] = {
    "class": "class",
    "channel": "channel at site",
    "unit": "unit",
    "region": "region",
    "detection": "detection",
}

ALL_CHANNELS = -1
# The channels a site's grid shows by default, those that pass the most (a token x unit
# grid's unit columns): enough to see a pattern, few enough to read each in a 224-pixel panel.
GRID_SIZE = 64
# The Explorer's defaults that more than one layer reads: the percentile of |attribution|
# that saturates a map, and the score a detection needs to be listed.
PERCENTILE = 99.0
SCORE_THRESHOLD = 0.5
# The image or model menu's entry for one given by the user rather than chosen there.
CUSTOM = "custom"

# The panels, by row: the maps and the site's output; the three masks at the site.
MAP_PANELS: tuple[str, ...] = ("input", "attribution", "activation")
MASK_PANELS: tuple[str, ...] = ("forward", "backward", "product")
# The panels drawn from a site's values, whose pixels are the site's units.
SITE_PANELS: tuple[str, ...] = (*MASK_PANELS, "activation")


def forward_mask_words(upper: float | None) -> str:
    """The forward mask at a site: ``1[x>0]``, or ``1[0<x<6]`` for a ReLU6 (``upper`` 6)."""
    return "1[x>0]" if upper is None else f"1[0<x<{upper:g}]"


def choices_text(names: object) -> str:
    """``'a', 'b' or 'c'`` for a message."""
    quoted = [repr(name) for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
