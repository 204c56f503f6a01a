"""The guided-backprop engine: torch only, no rendering or widget imports."""

from gbp_widgets.engine.explain import GuidedBackprop
from gbp_widgets.engine.explanation import Explanation, GuidedBackpropWarning
from gbp_widgets.engine.gradcam import GuidedGradCAM, guided_gradcam
from gbp_widgets.engine.recording import Recording
from gbp_widgets.engine.rules import RULES, apply_rule
from gbp_widgets.engine.sites import NotGuided, Site
from gbp_widgets.engine.targets import Neuron, Region

__all__ = [
    "RULES",
    "Explanation",
    "GuidedBackprop",
    "GuidedBackpropWarning",
    "GuidedGradCAM",
    "Neuron",
    "NotGuided",
    "Recording",
    "Region",
    "Site",
    "apply_rule",
    "guided_gradcam",
]
