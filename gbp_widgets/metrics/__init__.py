"""How far can a map be trusted? Faithfulness and localisation scores for any attribution,
torch and NumPy only: deletion and insertion curves (Petsiuk et al., 2018), the pointing
game (Zhang et al., 2016), and :func:`explain_func`, which lets Quantus score our maps."""

from gbp_widgets.metrics.curves import BASELINES, CURVES, Curve, blurred, deletion, insertion
from gbp_widgets.metrics.for_quantus import explain_func
from gbp_widgets.metrics.maps import (
    POINTING_SMOOTH,
    POINTING_TOLERANCE,
    pointing_accuracy,
    pointing_game,
    saliency,
)

__all__ = [
    "BASELINES",
    "CURVES",
    "POINTING_SMOOTH",
    "POINTING_TOLERANCE",
    "Curve",
    "blurred",
    "deletion",
    "explain_func",
    "insertion",
    "pointing_accuracy",
    "pointing_game",
    "saliency",
]
