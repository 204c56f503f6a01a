"""Guided Grad-CAM against a plain-autograd Grad-CAM and the reference guided map."""

import pytest
import torch
import torch.nn.functional as F

from gbp_widgets import guided_gradcam
from tests.reference import reference_attribution
from tests.zoo import torchvision_model, toy_model


def plain_gradcam(model, x, layer, classes):
    """Grad-CAM written out by hand: forward hook, ordinary autograd."""
    kept = {}
    handle = dict(model.named_modules())[layer].register_forward_hook(
        lambda m, a, out: kept.setdefault("a", out)
    )
    try:
        logits = model(x)
    finally:
        handle.remove()
    activations = kept["a"]
    score = logits[torch.arange(len(classes)), torch.tensor(classes)].sum()
    (grads,) = torch.autograd.grad(score, activations)
    cam = F.relu((grads.mean((2, 3), keepdim=True) * activations).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return cam / cam.amax((2, 3), keepdim=True)


def test_matches_hand_written_gradcam_times_reference_guided():
    model = torchvision_model("resnet18")
    torch.manual_seed(7)
    x = torch.randn(2, 3, 64, 64)
    result = guided_gradcam(model, x, target=[3, 4], layer="layer3")
    expected_cam = plain_gradcam(model, x, "layer3", [3, 4])
    torch.testing.assert_close(result.cam, expected_cam, rtol=1e-4, atol=1e-5)
    guided = reference_attribution(model, x, [3, 4], "guided")
    torch.testing.assert_close(result.guided.attribution, guided, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(result.product, guided * expected_cam, rtol=1e-4, atol=1e-7)
    assert result.layer == "layer3"
    assert float(result.cam.max()) == pytest.approx(1.0)


def test_default_layer_is_the_last_spatial_block():
    model = torchvision_model("resnet18")
    result = guided_gradcam(model, torch.randn(1, 3, 64, 64))
    assert result.layer == "layer4"
    assert result.cam.shape == (1, 1, 64, 64) and result.product.shape == (1, 3, 64, 64)


def test_layer_given_as_a_module_and_single_image():
    model = torchvision_model("resnet18")
    result = guided_gradcam(model, torch.randn(3, 64, 64), layer=model.layer2)
    assert result.layer == "layer2" and result.cam.shape == (1, 64, 64)


def test_unknown_layer_names_some_real_ones():
    with pytest.raises(ValueError, match="no module called 'layer9'.*'conv"):
        guided_gradcam(toy_model("module_relus"), torch.randn(1, 3, 16, 16), layer="layer9")


def test_a_layer_without_a_feature_map_is_refused():
    with pytest.raises(ValueError, match="did not return a \\(N, C, H, W\\) tensor"):
        guided_gradcam(toy_model("module_relus"), torch.randn(1, 3, 16, 16), layer="head")
