"""Real models outside image classification's comfort zone, and the regressions found on them.

All weights are random (timm's ``pretrained=False``, torchvision's ``weights=None``):
nothing is downloaded.
"""

import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision
from timm.layers.activations import HardSwish

from gbp_widgets import GuidedBackprop, Region, guided_gradcam
from tests.concurrency import assert_threads_agree
from tests.reference import reference_attribution, reference_general
from tests.zoo import torchvision_model

RULES = ("gradient", "deconvnet", "guided")

pytestmark = pytest.mark.filterwarnings("ignore::gbp_widgets.GuidedBackpropWarning")


def assert_close(actual, expected):
    scale = expected.abs().max().item()
    assert scale > 0, "reference map is all zero: the test would prove nothing"
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5 * scale)


TIMM = {
    "resnet10t": {},
    "mobilenetv2_035": {},  # ReLU6
    # timm's Python HardSwish: F.relu6(x + 3).div_(6), an in-place edit of a ReLU6 output,
    # which crashed the backward pass while the engine saved the ReLU6 output.
    "mobilenetv3_small_050": {"act_layer": HardSwish},
}


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", sorted(TIMM))
def test_timm_families_match_the_reference(name, rule):
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, num_classes=7, **TIMM[name]).eval()
    x = torch.randn(2, 3, 64, 64)
    explanation = GuidedBackprop(model).explain(x, target=[2, 5], rule=rule)
    assert_close(explanation.attribution, reference_attribution(model, x, [2, 5], rule))
    with torch.no_grad():
        torch.testing.assert_close(explanation.logits, model(x))


@pytest.mark.parametrize("rule", RULES)
def test_segmentation_region_matches_the_reference(rule):
    torch.manual_seed(0)
    model = torchvision.models.segmentation.fcn_resnet50(
        weights=None, weights_backbone=None, num_classes=4
    ).eval()
    x = torch.randn(1, 3, 64, 64)
    mask = torch.zeros(64, 64, dtype=torch.bool)
    mask[16:40, 8:30] = True
    explanation = GuidedBackprop(model).explain(x, target=Region(2, mask), rule=rule)
    assert explanation.logits.shape == (1, 4, 64, 64)
    (expected,) = reference_general(model, (x,), lambda out: out["out"][:, 2][:, mask].sum(), rule)
    assert_close(explanation.attribution, expected)


def test_detection_recipe_scores_one_detection():
    """The engine guide's recipe: a callable target that scores the top detection."""
    torch.manual_seed(0)
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, num_classes=3, box_score_thresh=0.0
    ).eval()
    image = torch.rand(1, 3, 160, 160)

    def top_score(detections):
        return detections[0]["scores"][:1]

    explanation = GuidedBackprop(model).explain(image, target=top_score)
    assert explanation.logits[0]["boxes"].shape[1] == 4
    (expected,) = reference_general(model, (image,), lambda out: top_score(out).sum(), "guided")
    assert_close(explanation.attribution, expected)


def _gradcam_by_hand(head, tail, x, cls):
    """Grad-CAM at the output of ``head``, the rest of the model being ``tail``."""
    activations = head(x).detach().requires_grad_(True)
    # tail may edit its input in place (VGG's ReLU(inplace=True)): give it a copy.
    (grad,) = torch.autograd.grad(tail(activations.clone())[:, cls].sum(), activations)
    cam = F.relu((grad.mean((2, 3), keepdim=True) * activations).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return (cam / cam.amax((2, 3), keepdim=True)).detach()


def test_gradcam_uses_the_layer_output_before_a_later_in_place_relu():
    model = torchvision_model("vgg11")
    torch.manual_seed(1)
    x = torch.randn(1, 3, 64, 64)
    result = guided_gradcam(model, x, target=7, layer="features.18")

    def tail(a):
        return model.classifier(torch.flatten(model.avgpool(model.features[19:](a)), 1))

    expected = _gradcam_by_hand(model.features[:19], tail, x, 7)
    torch.testing.assert_close(result.cam, expected, rtol=1e-4, atol=1e-5)


def test_gradcam_before_a_residual_add_keeps_the_batch_norm_output():
    model = torchvision_model("resnet18")
    x = torch.randn(1, 3, 64, 64)
    bn2 = model.layer4[1].bn2
    inputs = {}
    handle = bn2.register_forward_pre_hook(lambda m, args: inputs.setdefault("x", args[0].clone()))
    recording = GuidedBackprop(model).record(x, keep=("layer4.1.bn2",))
    handle.remove()
    with torch.no_grad():
        expected = bn2(inputs["x"])
    # Without the copy the kept tensor is the block's output, after `out += identity`.
    torch.testing.assert_close(recording.kept["layer4.1.bn2"].detach(), expected)
    result = guided_gradcam(model, x, layer="layer4.1.bn2")
    assert result.cam.shape == (1, 1, 64, 64)


def test_default_gradcam_layer_edited_in_place_is_used_as_returned():
    """DenseNet's last feature map is then rectified by F.relu(inplace=True)."""
    model = torchvision_model("densenet121")
    torch.manual_seed(1)
    x = torch.randn(1, 3, 64, 64)

    def tail(a):
        return model.classifier(torch.flatten(F.adaptive_avg_pool2d(F.relu(a), 1), 1))

    # Random weights leave many classes with an all-zero map: take the first that has one.
    cls, expected = next(
        (c, cam)
        for c in range(1000)
        if (cam := _gradcam_by_hand(model.features, tail, x, c)).isfinite().all()
    )
    result = guided_gradcam(model, x, target=cls)
    assert result.layer == "features"
    torch.testing.assert_close(result.cam, expected, rtol=1e-4, atol=1e-5)


def test_threads_explaining_one_train_mode_resnet_are_serialised():
    model = torchvision_model("resnet18").train()
    torch.manual_seed(2)
    assert_threads_agree(model, torch.randn(2, 3, 32, 32), 1, threads=4, each=3)
