"""How to read the colours of each picture :mod:`gbp_widgets.pictures.render` draws: a colour ramp
with words at its ends, for figures to draw under their panels. NumPy and Matplotlib only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gbp_widgets.pictures.drawing import label_colour
from gbp_widgets.pictures.render import DISPLAY_MODES


@dataclass(frozen=True)
class ColourKey:
    """``ramp``: the colours from left to right, ``(256, 3)`` ``uint8``; ``words``: what
    its left end, middle ("" for none) and right end stand for."""

    ramp: np.ndarray
    words: tuple[str, str, str]


@dataclass(frozen=True)
class LabelKey:
    """The key to a label map: each class shown, as ``(rgb, name)``, most frequent first;
    ``more``: how many classes present are left out."""

    swatches: tuple[tuple[tuple[int, int, int], str], ...]
    more: int = 0


def label_key(labels: np.ndarray, class_name: Callable[[int], str], shown: int = 6) -> LabelKey:
    """The key to :func:`gbp_widgets.pictures.drawing.label_map` of ``labels`` (class indices, any
    shape), naming class ``k`` ``class_name(k)``: the ``shown`` most frequent classes."""
    present, counts = np.unique(np.asarray(labels), return_counts=True)
    order = present[np.argsort(-counts, kind="stable")]
    swatches = tuple((label_colour(int(k)), class_name(int(k))) for k in order[:shown])
    return LabelKey(swatches, max(0, len(order) - shown))


def _ramp(colormap: str | None) -> np.ndarray:
    """Black to white, or a Matplotlib colour map, as ``(256, 3)`` ``uint8``."""
    levels = np.linspace(0.0, 1.0, 256)
    if colormap is None:
        return np.repeat((levels * 255).round().astype(np.uint8)[:, None], 3, axis=1)
    from matplotlib import colormaps  # only here, so importing the package stays light

    return (colormaps[colormap](levels)[:, :3] * 255).round().astype(np.uint8)


def display_key(mode: str, percentile: float = 99.0, channels: int = 3) -> ColourKey:
    """The key to an attribution of ``channels`` channels drawn by
    :func:`gbp_widgets.pictures.render.display` in ``mode``, clipped at the ``percentile`` written
    ``p99`` (see :func:`clip_note`). One of other than 3 channels is drawn in grey, by
    its channel mean, so its signed key has no R, G, B."""
    clip = f"p{percentile:g}"
    zero = "0 (each of R, G, B)" if channels == 3 else "0"
    keys = {
        # render.gradient_image: each of R, G, B is grey at 0, darker below, brighter above.
        "gradient": (None, (f"-{clip}", zero, f"+{clip}")),
        "saliency": (None, ("0", "", f"{clip} of |map|")),
        "positive": (None, ("0", "", f"{clip} of map > 0")),
        "negative": (None, ("0", "", f"{clip} of map < 0")),
        # render.overlay fades the heat map out where the map is 0: the photo shows there.
        "overlay": ("inferno", ("0 (photo)", "", f"{clip} of |map|")),
    }
    if mode not in keys:
        raise ValueError(f"unknown display mode {mode!r}: use one of {', '.join(DISPLAY_MODES)}")
    colormap, words = keys[mode]
    return ColourKey(_ramp(colormap), words)


def token_key(signed: bool, percentile: float = 99.0) -> ColourKey:
    """The key to tokens coloured by :func:`gbp_widgets.pictures.tokens.score_colours`:
    blue below 0 and red above (``signed``), or white to red by magnitude."""
    clip = f"p{percentile:g}"
    if signed:
        return ColourKey(_ramp(TOKEN_SIGNED), (f"-{clip}", "0", f"+{clip}"))
    return ColourKey(_ramp(TOKEN_MAGNITUDE), ("0", "", f"{clip} of |map|"))


# The colour maps of token scores: diverging when signed, sequential for magnitudes.
TOKEN_SIGNED, TOKEN_MAGNITUDE = "RdBu_r", "Reds"


def clip_note(percentile: float = 99.0) -> str:
    """What ``p99`` in a key means."""
    share = f"{percentile:g}th percentile"
    return f"p{percentile:g}: the {share} of |map|; values beyond it are clipped"


# render.activation_picture: inferno from 0 to the picture's own peak.
ACTIVATION_KEY = ColourKey(_ramp("inferno"), ("0", "", "peak"))
# render.mask_picture: one channel is white where on; all channels, the share that is on.
MASK_KEY = ColourKey(_ramp(None), ("off", "", "on"))
SHARE_ON_KEY = ColourKey(_ramp(None), ("0", "share of channels on", "1"))
# A gated site's soft masks (activations="gated"): grey levels of the gate s(x) in [0, 1].
GATE_KEY = ColourKey(_ramp(None), ("0", "gate s(x)", "1"))
MEAN_GATE_KEY = ColourKey(_ramp(None), ("0", "gate s(x), mean of channels", "1"))
# Their product with the backward mask: the gate where the gradient is positive, else 0.
GATED_PRODUCT_KEY = ColourKey(_ramp(None), ("0", "s(x) 1[g>0]", "1"))
MEAN_GATED_PRODUCT_KEY = ColourKey(_ramp(None), ("0", "s(x) 1[g>0], mean of channels", "1"))
