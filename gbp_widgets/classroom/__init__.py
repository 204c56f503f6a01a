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
    check_hook_guided_backprop,
    hook_mismatch,
)
from gbp_widgets.classroom.relu_checks import (
    SkipCNN,
    check_deconvnet_relu,
    check_guided_relu,
    rule_formula,
)

__all__ = [
    "Feedback",
    "FunctionalNet",
    "Outcome",
    "ReLU6Net",
    "ReLUNet",
    "RubricItem",
    "SkipCNN",
    "check_deconvnet_relu",
    "check_guided_relu",
    "check_hook_guided_backprop",
    "hook_mismatch",
    "rule_formula",
]
