"""Classroom assignments: automatic, specific feedback on students' own rule code.

Two assignments use it: writing the guided and DeconvNet ReLU as autograd
Functions (:func:`check_guided_relu`, :func:`check_deconvnet_relu`), and
finding the ReLUs that module-hook guided backprop misses
(:func:`check_hook_guided_backprop`, :func:`hook_mismatch`).
"""

from gbp_widgets.classroom.feedback import Feedback, Outcome, RubricItem
from gbp_widgets.classroom.hook_checks import (
    FunctionalNet,
    ReLU6Net,
    ReLUNet,
    calls_missed_by_relu_hooks,
    check_hook_guided_backprop,
    check_missed_calls,
    hook_mismatch,
)
from gbp_widgets.classroom.maps import (
    StudentActivation,
    hook_maps_figure,
    relu_maps_figure,
    relu_network_mismatch,
    with_student_relu,
)
from gbp_widgets.classroom.relu_checks import SkipCNN, check_deconvnet_relu, check_guided_relu
from gbp_widgets.classroom.relu_probe import rule_formula

__all__ = [
    "Feedback",
    "FunctionalNet",
    "Outcome",
    "ReLU6Net",
    "ReLUNet",
    "RubricItem",
    "SkipCNN",
    "StudentActivation",
    "calls_missed_by_relu_hooks",
    "check_deconvnet_relu",
    "check_guided_relu",
    "check_hook_guided_backprop",
    "check_missed_calls",
    "hook_maps_figure",
    "hook_mismatch",
    "relu_maps_figure",
    "relu_network_mismatch",
    "rule_formula",
    "with_student_relu",
]
