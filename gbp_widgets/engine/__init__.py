"""The guided-backprop engine: torch only, no rendering or widget imports.

Everything the rest of the package uses is exported here; the submodules are the
engine's own business (an import-linter contract in pyproject.toml keeps it so).
"""

from gbp_widgets.engine.explain import GuidedBackprop
from gbp_widgets.engine.explanation import (
    Explanation,
    GuidedBackpropWarning,
    coverage_message,
    warn_about_coverage,
)
from gbp_widgets.engine.gated import ACTIVATIONS, GATES, Gate, check_activations
from gbp_widgets.engine.gradcam import (
    GuidedGradCAM,
    gradcam_map,
    guided_gradcam,
    guided_gradcam_from,
    layer_activations,
)
from gbp_widgets.engine.guard import evaluation_mode, model_device_and_dtype, model_lock
from gbp_widgets.engine.inputs import PreparedInputs, prepare_inputs
from gbp_widgets.engine.outputs import OutputError, choose_output
from gbp_widgets.engine.recording import Recording
from gbp_widgets.engine.rules import (
    BACKWARD_RULES,
    RULES,
    BackwardRule,
    apply_rule,
    check_rule,
    rule_named,
)
from gbp_widgets.engine.sites import Backprop, NotGuided, Site
from gbp_widgets.engine.targets import Neuron, Region, Target, class_targets
from gbp_widgets.engine.token_targets import TokenTarget
from gbp_widgets.engine.tokens import is_token_ids

__all__ = [
    "ACTIVATIONS",
    "BACKWARD_RULES",
    "GATES",
    "RULES",
    "Backprop",
    "BackwardRule",
    "Explanation",
    "GuidedBackprop",
    "GuidedBackpropWarning",
    "Gate",
    "GuidedGradCAM",
    "Neuron",
    "NotGuided",
    "OutputError",
    "PreparedInputs",
    "Recording",
    "Region",
    "Site",
    "Target",
    "TokenTarget",
    "apply_rule",
    "check_activations",
    "check_rule",
    "choose_output",
    "class_targets",
    "coverage_message",
    "gradcam_map",
    "evaluation_mode",
    "guided_gradcam",
    "guided_gradcam_from",
    "is_token_ids",
    "layer_activations",
    "model_device_and_dtype",
    "model_lock",
    "prepare_inputs",
    "rule_named",
    "warn_about_coverage",
]
