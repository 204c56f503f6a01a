"""What the Explorer says in words: target names and panel captions. Pure functions."""

from __future__ import annotations

from collections.abc import Callable

from gbp_widgets.engine import Neuron, Region
from gbp_widgets.explore.names import ALL_CHANNELS, RULE_LABELS, forward_mask_words
from gbp_widgets.explore.outputs import DetectionScore
from gbp_widgets.explore.session import View

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
