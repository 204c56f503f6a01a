"""The guided-ReLU checker: right answers pass however they are written; each mistake is
named once, on the rubric item it belongs to, and nothing else is marked wrong."""

import inspect

import pytest
import torch

from gbp_widgets.classroom import check_deconvnet_relu, check_guided_relu
from tests.student_relus import (
    DECONVNET,
    PLAIN_GRADIENT,
    RIGHT_GUIDED,
    WRONG_GUIDED,
    Delegates,
    Typo,
    relu_function,
)


def failed_items(feedback):
    return {o.item.key for o in feedback.outcomes if o.status == "failed"}


@pytest.mark.parametrize("name", RIGHT_GUIDED)
def test_right_guided_relus_pass_however_written(name):
    feedback = check_guided_relu(RIGHT_GUIDED[name])
    assert feedback.passed, str(feedback)
    assert feedback.score == 1.0 and feedback.points(6) == 6


def test_a_right_deconvnet_relu_passes():
    assert check_deconvnet_relu(DECONVNET).passed


@pytest.mark.parametrize("name", WRONG_GUIDED)
def test_each_guided_mistake_is_named_once_on_its_own_item(name):
    student, item, words = WRONG_GUIDED[name]
    feedback = check_guided_relu(student)
    assert failed_items(feedback) == {item}, str(feedback)
    assert str(feedback).count(words) == 1, str(feedback)
    assert 0 <= feedback.score < 1
    earned = sum(o.item.points for o in feedback.outcomes if o.status == "passed")
    assert feedback.score == pytest.approx(earned / 10)


def test_partial_credit_follows_the_rubric():
    feedback = check_guided_relu(PLAIN_GRADIENT)
    # forward 1 + runs 1 + forward mask 2 + values 1 + grad_output 1 + ctx 1 of 10;
    # the network item waits for the rest.
    assert feedback.score == pytest.approx(0.7)
    assert feedback.outcome("network").status == "not checked"


def test_deconvnet_masked_by_the_input():
    feedback = check_deconvnet_relu(RIGHT_GUIDED["float masks"])
    assert failed_items(feedback) == {"forward_mask"}
    assert "it masks by the input" in str(feedback)
    assert "swapped" not in str(feedback)


def test_swapped_rules_are_named_as_a_swap():
    guided_feedback = check_guided_relu(DECONVNET, deconvnet=RIGHT_GUIDED["float masks"])
    deconvnet_feedback = check_deconvnet_relu(RIGHT_GUIDED["float masks"], guided=DECONVNET)
    for feedback in (guided_feedback, deconvnet_feedback):
        assert str(feedback).count("the two are swapped") == 1
    assert "swapped" not in str(check_guided_relu(DECONVNET, deconvnet=DECONVNET))


def test_deconvnet_with_the_plain_gradient_names_both_masks():
    feedback = check_deconvnet_relu(PLAIN_GRADIENT)
    assert failed_items(feedback) == {"forward_mask", "backward_mask"}
    assert str(feedback).count("plain ReLU gradient") == 1


def test_a_crash_shows_the_students_own_line():
    feedback = check_guided_relu(Typo)
    lines, start = inspect.getsourcelines(Typo.backward)
    number = start + next(i for i, line in enumerate(lines) if "floatt" in line)
    assert f"line {number}: `mask = (x > 0) * (g > 0).floatt()`" in str(feedback)
    assert "AttributeError" in str(feedback)


def test_delegating_to_the_package_is_flagged_not_credited():
    feedback = check_guided_relu(Delegates)
    assert feedback.score == 0 and not feedback.passed
    assert "apply_rule" in feedback.flag
    assert str(feedback).count("gbp-widgets' own implementation") == 1


def test_the_checker_leaves_rng_and_grad_mode_alone():
    state = torch.get_rng_state()
    with torch.no_grad():
        feedback = check_guided_relu(RIGHT_GUIDED["where"])
        assert not torch.is_grad_enabled()
    assert feedback.passed
    assert torch.equal(torch.get_rng_state(), state)


def test_not_a_function():
    feedback = check_guided_relu(lambda x: x)
    assert "torch.autograd.Function subclass" in str(feedback)
    assert feedback.score == 0


def test_feedback_renders_in_notebooks():
    html = check_guided_relu(DECONVNET)._repr_html_()
    assert "#b00020" in html and "1[x&gt;0]" in html


def test_a_bool_mask_returned_as_the_gradient_is_the_mask_itself():
    feedback = check_guided_relu(relu_function(lambda x, g: (x > 0) & (g > 0)))
    assert failed_items(feedback) == {"values"}
    assert "returns the mask itself" in str(feedback)


REVERSED = {
    # (rule, backward given (saved x, g), the item it fails, words the message must contain)
    "guided, 1[x<0]": ("guided", lambda x, g: g * (x < 0) * (g > 0), "forward_mask", "1[x<0]"),
    "guided, 1[g<0]": ("guided", lambda x, g: g * (x > 0) * (g < 0), "backward_mask", "1[g<0]"),
    "DeconvNet, 1[g<0]": ("deconvnet", lambda x, g: g * (g < 0), "backward_mask", "1[g<0]"),
    "DeconvNet, clamp(max=0)": (
        "deconvnet",
        lambda x, g: g.clamp(max=0),
        "backward_mask",
        "1[g<0]",
    ),
}


@pytest.mark.parametrize("name", REVERSED)
def test_a_reversed_comparison_is_named_on_its_own_mask(name):
    rule, backward, item, words = REVERSED[name]
    check = check_guided_relu if rule == "guided" else check_deconvnet_relu
    feedback = check(relu_function(backward))
    assert failed_items(feedback) == {item}, str(feedback)
    assert str(feedback).count("comparison on") == 1
    assert words in feedback.outcome(item).message
    # The 0/1 masks still multiply g: only the reversed mask's points are lost.
    assert feedback.score == pytest.approx(7 / 10)


def test_guided_handed_in_as_deconvnet_is_named():
    guided = RIGHT_GUIDED["float masks"]
    feedback = check_deconvnet_relu(guided, guided=guided)
    assert failed_items(feedback) == {"forward_mask"}
    assert "guided backprop handed in as DeconvNet" in str(feedback)
    assert "without the forward mask (x > 0)" in str(feedback)


def test_deconvnet_handed_in_as_guided_is_named():
    feedback = check_guided_relu(DECONVNET, deconvnet=DECONVNET)
    assert "DeconvNet handed in as guided backprop" in str(feedback)
    assert "swapped" not in str(feedback)
