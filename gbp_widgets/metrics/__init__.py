"""How far can a map be trusted? Faithfulness and localisation scores for any attribution,
torch and NumPy only: deletion and insertion curves (Petsiuk et al., 2018), the pointing
game (Zhang et al., 2016), and :func:`explain_func`, which lets Quantus score our maps."""

from gbp_widgets.metrics.curves import BASELINES, CURVES, Curve, blurred, deletion, insertion
from gbp_widgets.metrics.for_quantus import explain_func
from gbp_widgets.metrics.intervals import Z95, wilson
from gbp_widgets.metrics.maps import (
    POINTING_SMOOTH,
    POINTING_TOLERANCE,
    pointing_accuracy,
    pointing_game,
    saliency,
)
from gbp_widgets.metrics.text_pointing import TEXT_MAPS, TextMap, TextPointing, token_pointing

__all__ = [
    "BASELINES",
    "CURVES",
    "POINTING_SMOOTH",
    "POINTING_TOLERANCE",
    "TEXT_MAPS",
    "Z95",
    "Curve",
    "TextMap",
    "TextPointing",
    "blurred",
    "deletion",
    "explain_func",
    "insertion",
    "pointing_accuracy",
    "pointing_game",
    "saliency",
    "token_pointing",
    "wilson",
]
