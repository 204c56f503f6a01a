"""The Explorer's model of what is shown: session, state table, views and names.

Torch, NumPy and pictures only: no widget library (an import-linter contract in
pyproject.toml says so), so everything here is usable and testable without a
notebook.
"""

from gbp_widgets.explore.batch import picture_inputs
from gbp_widgets.explore.names import (
    ALL_CHANNELS,
    COMPARED_RULES,
    CUSTOM,
    DISPLAY_LABELS,
    EXPLORER_RULES,
    INPUT_KINDS,
    MAP_PANELS,
    MASK_PANELS,
    RULE_LABELS,
    TARGET_KIND_LABELS,
    forward_mask_words,
)
from gbp_widgets.explore.outputs import Detection, DetectionScore, unknown_class_message
from gbp_widgets.explore.passes import Result, View
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.explore.state import (
    STATE,
    Control,
    Effect,
    Row,
    Value,
    Widget,
    options,
    problem,
    settled,
    traits_with,
)
from gbp_widgets.explore.views import Cut

__all__ = [
    "ALL_CHANNELS",
    "COMPARED_RULES",
    "CUSTOM",
    "DISPLAY_LABELS",
    "EXPLORER_RULES",
    "INPUT_KINDS",
    "MAP_PANELS",
    "MASK_PANELS",
    "RULE_LABELS",
    "STATE",
    "Control",
    "TARGET_KIND_LABELS",
    "Cut",
    "Detection",
    "DetectionScore",
    "Effect",
    "ExplorerSession",
    "Result",
    "Row",
    "Value",
    "View",
    "Widget",
    "options",
    "forward_mask_words",
    "picture_inputs",
    "problem",
    "settled",
    "traits_with",
    "unknown_class_message",
]
