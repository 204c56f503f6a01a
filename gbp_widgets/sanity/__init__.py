"""Sanity checks for saliency maps (Adebayo et al., 2018): does the map depend on the model
and on the data, or would it look the same anyway?"""

from gbp_widgets.sanity.data import DataRandomization, data_randomization
from gbp_widgets.sanity.metrics import METRICS, normalised_map, similarities
from gbp_widgets.sanity.randomization import (
    SanityResult,
    cascading_randomization,
    independent_randomization,
    parameter_blocks,
    reinitialise,
)

__all__ = [
    "METRICS",
    "DataRandomization",
    "SanityResult",
    "cascading_randomization",
    "data_randomization",
    "independent_randomization",
    "normalised_map",
    "parameter_blocks",
    "reinitialise",
    "similarities",
]
