"""The Explorer's model of what is shown: session, state table, kinds, rules and scene.

Torch, NumPy and pictures only: no widget library (an import-linter contract in
pyproject.toml says so), so everything here is usable and testable without a
notebook.
"""

from gbp_widgets.explore.batch import picture_inputs
from gbp_widgets.explore.input_kinds import INPUT_KINDS, KINDS, InputKind
from gbp_widgets.explore.names import (
    ALL_CHANNELS,
    CUSTOM,
    DISPLAY_LABELS,
    MAP_PANELS,
    MASK_PANELS,
    TARGET_KIND_LABELS,
    forward_mask_words,
)
from gbp_widgets.explore.output_kinds import OUTPUT_KINDS, Detection, OutputKind
from gbp_widgets.explore.passes import Result
from gbp_widgets.explore.rules import COMPARED_RULES, EXPLORER_RULES, RULE_LABELS, RULES, Rule
from gbp_widgets.explore.scene import Scene, scene_of
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.explore.state import STATE, options, problem, settled, traits_with
from gbp_widgets.explore.table import (
    Ahead,
    Control,
    Effect,
    Line,
    Place,
    Row,
    StateTable,
    Steps,
    Value,
    Widget,
)
from gbp_widgets.explore.view import Cut, DetectionScore, View
from gbp_widgets.explore.words import unknown_class_message

__all__ = [
    "ALL_CHANNELS",
    "COMPARED_RULES",
    "CUSTOM",
    "DISPLAY_LABELS",
    "EXPLORER_RULES",
    "INPUT_KINDS",
    "KINDS",
    "MAP_PANELS",
    "MASK_PANELS",
    "OUTPUT_KINDS",
    "RULES",
    "RULE_LABELS",
    "STATE",
    "TARGET_KIND_LABELS",
    "Ahead",
    "Control",
    "Cut",
    "Detection",
    "DetectionScore",
    "Effect",
    "ExplorerSession",
    "InputKind",
    "Line",
    "OutputKind",
    "Place",
    "Result",
    "Row",
    "Rule",
    "Scene",
    "StateTable",
    "Steps",
    "Value",
    "View",
    "Widget",
    "forward_mask_words",
    "options",
    "picture_inputs",
    "problem",
    "scene_of",
    "settled",
    "traits_with",
    "unknown_class_message",
]
