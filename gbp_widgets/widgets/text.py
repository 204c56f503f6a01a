"""What the explorer says in words: captions, the hover read-out, messages. Pure functions."""

from __future__ import annotations

import html
from collections.abc import Callable

from gbp_widgets.colour_keys import ColourKey, LabelKey
from gbp_widgets.engine import Neuron, Region
from gbp_widgets.explore import (
    ALL_CHANNELS,
    RULE_LABELS,
    DetectionScore,
    View,
    forward_mask_words,
)

# Over the channel grid in the widget, and under it in figures.
GRID_CAPTION = "product mask, channels ranked by how much they pass"


def target_words(target: int | Neuron, class_name: Callable[[int], str]) -> str:
    """``"tiger cat"``, ``"channel 635 at _blocks.9._swish#1"`` or
    ``"unit (y=3, x=4) of channel 7 at layer1.0.relu#2"``."""
    if target is None:
        return "the score"
    if isinstance(target, Region):
        where = "all positions" if target.mask is None else f"{int(target.mask.sum())} positions"
        return f"{class_name(target.cls)} over {where}"
    if isinstance(target, DetectionScore):
        return f"detection #{target.index}"
    if not isinstance(target, Neuron):
        return class_name(target)
    if target.y is not None and target.x is not None:
        return f"unit (y={target.y}, x={target.x}) of channel {target.channel} at {target.site}"
    if target.position is not None:
        return f"unit {tuple(target.position)} of channel {target.channel} at {target.site}"
    return f"channel {target.channel} at {target.site}"


def captions(
    view: View,
    site: str,
    class_name: Callable[[int], str],
    layer: str = "",
    rectifier: tuple[str, float | None] = ("relu", None),
) -> dict[str, str]:
    """Plain-text captions of the six panels for ``view`` at site ``site``, whose
    rectifier is ``(kind, ceiling)``: a site named after a module attribute (EfficientNet's
    ``_swish`` holds a ReLU6) says what it is, and its forward mask's formula."""
    kind, upper = rectifier
    if site and kind != "relu":
        site = f"{site} ({kind})"
    rule = RULE_LABELS[view.rule] + (f" at {layer}" if layer else "")
    channels = "all channels" if view.channel == ALL_CHANNELS else f"channel {view.channel}"
    return {
        "input": "input",
        "attribution": f"{rule}: {target_words(view.target, class_name)}",
        "activation": f"output at {site}, {channels}" if site else "output (no ReLU sites)",
        "forward": (
            f"forward {forward_mask_words(upper)} at {site}" if site else "forward (no ReLU sites)"
        ),
        "backward": f"backward 1[g>0], {channels}",
        "product": "product: what guided passes",
        "output": "predicted labels (hover: class, click: region)",
    }


def readout_html(values: dict[str, object]) -> str:
    """The hover read-out as a one-row table: every field in its own cell, never split."""
    numbers = ", ".join(f"{v:+.3g}" for v in values["attribution"])
    fields = [values["where"]]
    if "rgb" in values:
        fields.append(f"input RGB {values['rgb']}")
    else:
        fields.append("input " + ", ".join(f"{v:+.3g}" for v in values["input"]))
    fields.append(f"attribution ({numbers})")
    if "predicted" in values:
        fields.append(f"predicted: {values['predicted']}")
    if "pre_activation" in values:
        channel = values["site_channel"]
        unit = "mean over channels" if channel is None else f"channel {channel}"
        fields += [
            f"site unit {tuple(values['site_position'])}, {unit}",
            f"x = {values['pre_activation']:+.4g}",
            f"output = {values['output']:.4g}",
            f"g = {values['gradient']:+.4g}",
            f"forward {values['forward']:.3g} · backward {values['backward']:.3g} · "
            f"product {values['product']:.3g}",
        ]
    cells = "".join(
        f"<td style='white-space:nowrap;padding-right:1.2em'><code>{html.escape(f)}</code></td>"
        for f in fields
    )
    return f"<table style='border-collapse:collapse'><tr>{cells}</tr></table>"


def key_html(key: ColourKey | LabelKey | None, width: int) -> str:
    """A colour key ``width`` CSS pixels wide: the ramp as a gradient bar, its words under
    the ends and the middle, or a label map's class swatches; ``""`` for no key."""
    if key is None:
        return ""
    if isinstance(key, LabelKey):
        return _label_key_html(key, width)
    stops = ", ".join(
        f"rgb({r},{g},{b}) {100 * i / 15:.0f}%"
        for i, (r, g, b) in enumerate(key.ramp[:: max(1, len(key.ramp) // 15)][:16])
    )
    left, middle, right = (html.escape(word) for word in key.words)
    cut = "white-space:nowrap;overflow:hidden;text-overflow:ellipsis"
    return (
        f"<div style='width:{width}px;font-size:10px;line-height:12px;color:#444'>"
        f"<div style='height:6px;border:1px solid #aaa;background:linear-gradient("
        f"to right, {stops})'></div>"
        f"<div style='display:flex;justify-content:space-between;gap:4px'>"
        f"<span style='{cut}'>{left}</span><span style='{cut}'>{middle}</span>"
        f"<span style='{cut}'>{right}</span></div></div>"
    )


def _label_key_html(key: LabelKey, width: int) -> str:
    swatches = "".join(
        f"<span style='white-space:nowrap;margin-right:6px'><span style='display:inline-block;"
        f"width:9px;height:9px;border:1px solid #999;background:rgb{colour};"
        f"vertical-align:middle'></span> {html.escape(name)}</span>"
        for colour, name in key.swatches
    )
    more = f"<span>+{key.more} more</span>" if key.more else ""
    return (
        f"<div style='width:{width}px;font-size:10px;line-height:13px;color:#444;"
        f"display:flex;flex-wrap:wrap'>{swatches}{more}</div>"
    )
