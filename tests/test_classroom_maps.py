"""The assignments' last cells: a student's ReLU put into real networks, next to the engine."""

import pytest
import torch
import torchvision

from gbp_widgets.classroom import (
    StudentActivation,
    hook_maps_figure,
    relu_maps_figure,
    relu_network_mismatch,
    with_student_relu,
)
from gbp_widgets.engine import GuidedBackprop
from tests.student_hooks import FIXED, RELU_ONLY
from tests.student_relus import (
    DECONVNET,
    PLAIN_GRADIENT,
    RIGHT_GUIDED,
    CtxAttribute,
    InPlace,
    Placeholder,
)

# The fast subset leaves this out: students' maps on pretrained and random networks.
pytestmark = pytest.mark.slow


def test_student_relu6_is_the_engines_guided_relu6():
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(num_classes=10).eval()
    images = torch.randn(1, 3, 64, 64)
    swapped = with_student_relu(model, RIGHT_GUIDED["float masks"])
    assert sum(isinstance(m, StudentActivation) for m in swapped.modules()) == 35
    assert not any(isinstance(m, StudentActivation) for m in model.modules())
    leaf = images.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(swapped(leaf)[0, 4], leaf)
    expected = GuidedBackprop(model).explain(images, 4).attribution
    assert torch.allclose(grad, expected, rtol=1e-4, atol=1e-7)


def test_network_mismatch_in_resnet():
    assert relu_network_mismatch(RIGHT_GUIDED["masked_fill"], "guided") == ""
    assert relu_network_mismatch(RIGHT_GUIDED["saves the output"], "guided") == ""
    assert relu_network_mismatch(DECONVNET, "deconvnet") == ""
    told = relu_network_mismatch(PLAIN_GRADIENT, "guided")
    assert "differs from the engine's in" in told and "of its 24,576 values" in told
    assert "NotImplementedError" in relu_network_mismatch(Placeholder, "guided")


def test_the_hidden_network_catches_what_the_visible_check_does():
    # The ReLU's output meets the skip connection, so an in-place grad_output changes the map.
    told = relu_network_mismatch(InPlace, "guided")
    assert "differs from the engine's" in told
    # Tensors kept as ctx attributes give the right numbers here; the rule is still broken.
    told = relu_network_mismatch(CtxAttribute, "guided")
    assert "your map matches the engine's, but" in told and "ctx.x" in told


def captions(figure):
    return [axis.get_title() for axis in figure.axes if axis.get_title()]


def keyed_panels(figure):
    """How many colour keys under the panels say what white is."""
    return sum(
        "p99 of |map|" in [label.get_text() for label in axis.get_xticklabels()]
        for axis in figure.axes
    )


def test_relu_maps_figure_says_whether_the_maps_match():
    figure = relu_maps_figure(RIGHT_GUIDED["where"], DECONVNET)
    assert captions(figure) == ["photo", "gbp-widgets, guided", "yours, guided", "yours, DeconvNet"]
    assert "they match" in figure.get_supxlabel()
    assert keyed_panels(figure) == 3 and "99th percentile" in figure.get_supxlabel()
    assert figure._repr_png_().startswith(b"\x89PNG")
    unfinished = relu_maps_figure(Placeholder)
    assert captions(unfinished) == ["photo", "gbp-widgets, guided"]
    assert "NotImplementedError" in unfinished.get_supxlabel()


def test_hook_maps_figure_shows_the_classic_recipe_failing_on_relu6():
    figure = hook_maps_figure({"classic": RELU_ONLY, "fixed": FIXED})
    note = figure.get_supxlabel()
    assert "classic: largest difference" in note and "they do NOT match" in note
    fixed_line = next(line for line in note.splitlines() if line.startswith("fixed:"))
    assert fixed_line.endswith("they match")
