"""What the Explorer says in words: target names and panel captions. Pure functions."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from gbp_widgets.engine import Gate, Neuron, Region, TokenTarget
from gbp_widgets.explore.names import ALL_CHANNELS, MASK_PANELS, forward_mask_words
from gbp_widgets.explore.rules import RULES
from gbp_widgets.explore.view import DetectionScore, View

# Over the channel grid in the widget, and under it in figures.
GRID_CAPTION = "product mask, channels ranked by how much they pass"


def target_words(
    target: int | Neuron,
    class_name: Callable[[int], str],
    rows: str = "channel",
    scored: str = "next, after",
) -> str:
    """``"tiger cat"``, ``"channel 635 at _blocks.9._swish#1"`` or
    ``"unit (y=3, x=4) of channel 7 at layer1.0.relu#2"`` (``rows``: what a site's first
    dimension is, ``"token"`` for token ids: ``"unit (104,) of token 3 at ..."``;
    ``scored``: how a token target's token stands to its positions, ``"'x' next, after
    token 3"``)."""
    if target is None:
        return "the score"
    if isinstance(target, Region):
        where = "all positions" if target.mask is None else f"{int(target.mask.sum())} positions"
        return f"{class_name(target.cls)} over {where}"
    if isinstance(target, DetectionScore):
        return f"detection #{target.index}"
    if isinstance(target, TokenTarget):
        after = target.position
        where = (
            f"tokens {', '.join(map(str, after))}" if isinstance(after, list) else f"token {after}"
        )
        return f"{class_name(target.token)!r} {scored} {where}"
    if not isinstance(target, Neuron):
        return class_name(target)
    row = f"{rows} {target.channel} at {target.site}"
    if target.y is not None and target.x is not None:
        return f"unit (y={target.y}, x={target.x}) of {row}"
    if target.position is not None:
        return f"unit {tuple(target.position)} of {row}"
    return row


def site_words(site: str, rectifier: tuple[str, float | None]) -> str:
    """A site's name in full, with what it is when its module's name does not say
    (EfficientNet's ``_swish`` holds a ReLU6): ``"_blocks.9._swish#1 (relu6)"``."""
    kind, _ = rectifier
    return f"{site} ({kind})" if kind != "relu" else site


def captions(
    view: View,
    class_name: Callable[[int], str],
    layer: str = "",
    rectifier: tuple[str, float | None] | None = ("relu", None),
    gate: Gate | None = None,
    rows: str = "channel",
    scored: str = "next, after",
) -> dict[str, str]:
    """Short plain-text captions of the panels for ``view``, by panel name; the site they
    show is named once for their row (:func:`row_caption`). ``rectifier`` is the site's
    ``(kind, ceiling)``, ``None`` for a model without sites; the forward mask's caption
    gives its formula (``1[0<x<6]`` for a ReLU6), or at a gated site (``gate``) says it
    is the gate ``s(x)``; ``layer`` is where the rule's CAM was taken, if it has one;
    ``rows`` names a site's first dimension and ``scored`` how a token target's token
    stands to its positions (see :func:`target_words`)."""
    rule = RULES[view.rule].caption(layer)
    words = {
        "input": "input",
        "attribution": f"{rule}: {target_words(view.target, class_name, rows, scored)}",
        "output": "predicted labels (hover: class, click: region)",
    }
    if rectifier is None:
        none = "(no ReLU sites)"
        return words | {name: f"{name} {none}" for name in ("activation", *MASK_PANELS)}
    if gate is not None:
        return words | {
            "activation": f"output of the {gate.kind}",
            "forward": "forward: gate s(x)",
            "backward": "backward 1[g>0]",
            "product": "product s(x) 1[g>0]",
        }
    return words | {
        "activation": "output of the site",
        "forward": f"forward {forward_mask_words(rectifier[1])}",
        "backward": "backward 1[g>0]",
        "product": "product: what guided passes",
    }


def row_caption(
    names: tuple[str, ...], view: View, site: str, gated: bool = False, rows: str = "channel"
) -> str:
    """The words over a row of panels ``names`` that show site ``site`` (named in full,
    see :func:`site_words`; ``gated``: a gated call's site): which site and channels
    (``rows``: what the site's first dimension is, "token" for token ids); ``""`` for a
    row that shows none."""
    if not site:
        return ""
    channels = f"all {rows}s" if view.channel == ALL_CHANNELS else f"{rows} {view.channel}"
    noun = "gated site" if gated else "ReLU site"
    if set(MASK_PANELS) & set(names):
        extension = " (soft masks: our extension of the method)" if gated else ""
        return f"masks at {noun} {site}, {channels}{extension}"
    return f"output panel: {noun} {site}, {channels}" if "activation" in names else ""


def frame_words(top: tuple[int, str, float]) -> str:
    """The input panel's caption for a webcam frame: its top class ``(index, name,
    probability)`` with the probability, ``"webcam: espresso 71%"``."""
    _, name, probability = top
    return f"webcam: {name} {100 * probability:.0f}%"


def unknown_class_message(name: str, classes: Sequence[str]) -> str:
    """No class called ``name``: say so and offer the closest names, case ignored."""
    lowered = {c.lower(): c for c in classes}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
    containing = [c for c in classes if name.lower() in c.lower()][:3]
    offers = list(dict.fromkeys([lowered[c] for c in close] + containing))[:3]
    hint = f"; did you mean {', '.join(repr(o) for o in offers)}?" if offers else ""
    return f"no class called {name!r} in this model's {len(classes)} classes{hint}"
