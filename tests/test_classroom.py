"""The assignment's checks: right answers pass, typical mistakes get specific feedback."""

import pytest
import torch

from gbp_widgets.classroom import check_deconvnet_relu, check_guided_relu


def relu_function(backward_rule, forward=lambda x: x.clamp(min=0)):
    """A student's Function with the given forward and backward(x, g)."""

    class StudentReLU(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return forward(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return backward_rule(x, g)

    return StudentReLU


GUIDED = relu_function(lambda x, g: g * (x > 0).float() * (g > 0).float())
DECONVNET = relu_function(lambda x, g: g * (g > 0).float())


def test_a_correct_guided_relu_passes():
    feedback = check_guided_relu(GUIDED)
    assert feedback.passed and feedback.score == 1.0
    assert "All 4 checks passed" in str(feedback)


def test_a_correct_deconvnet_relu_passes():
    assert check_deconvnet_relu(DECONVNET).passed


MISTAKES = [
    (
        relu_function(lambda x, g: g * (x > 0).float()),
        "lets negative gradients through at positions where x>0",
    ),
    (DECONVNET, "the forward mask 1[x>0] is missing"),
    (relu_function(lambda x, g: g * (x >= 0).float() * (g > 0).float()), "strict x > 0"),
    (
        relu_function(lambda x, g: g * x.clamp(min=0) * (g > 0).float()),
        "activation values instead of the 0/1 mask",
    ),
    (relu_function(lambda x, g: -g * (x > 0).float() * (g > 0).float()), "sign is flipped"),
    (
        relu_function(lambda x, g: g * (x > 0).float() * (g > 0).float(), forward=lambda x: x * 1),
        "forward must return relu(x)",
    ),
    (relu_function(lambda x, g: (g * (x > 0) * (g > 0)).sum()), "gradient of the wrong shape"),
]


@pytest.mark.parametrize("student, hint", MISTAKES)
def test_typical_guided_mistakes_get_specific_feedback(student, hint):
    feedback = check_guided_relu(student)
    assert not feedback.passed and feedback.score < 1.0
    assert hint in str(feedback)


def test_deconvnet_that_masks_by_the_input():
    feedback = check_deconvnet_relu(GUIDED)
    assert "deconvnet ignores the input" in str(feedback)


def test_the_placeholder_says_what_to_do():
    def placeholder(x, g):
        raise NotImplementedError

    feedback = check_guided_relu(relu_function(placeholder))
    assert feedback.score == 0.0
    assert "replace `raise NotImplementedError` with your code" in str(feedback)


def test_a_backward_that_remembers_a_global_fails_in_the_model():
    class Remembers(torch.autograd.Function):
        last = None

        @staticmethod
        def forward(ctx, x):
            Remembers.last = x.detach().clone()
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, g):
            return g * (Remembers.last > 0).float() * (g > 0).float()

    feedback = check_guided_relu(Remembers)
    assert feedback.score == 0.75
    assert "in a small CNN" in str(feedback)


def test_not_a_function_and_a_crash():
    assert "torch.autograd.Function subclass" in str(check_guided_relu(lambda x: x))
    crashing = relu_function(lambda x, g: g.no_such_method())
    assert "your function raised" in str(check_guided_relu(crashing))


def test_feedback_renders_in_notebooks():
    html = check_guided_relu(DECONVNET)._repr_html_()
    assert "#b00020" in html and "1[x&gt;0]" in html
