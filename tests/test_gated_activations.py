"""``activations="gated"``: every spelling of a gated call is a site, library models of
the GELU / SiLU / Hardswish families get the rule, reports stay honest, bad values are
refused. All weights are random (timm's ``pretrained=False``, torchvision's ``weights=None``).
"""

import warnings

import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from gbp_widgets import GuidedBackprop, GuidedBackpropWarning
from tests.fingerprint import assert_same, snapshot
from tests.random_nets import GATED_SPELLINGS
from tests.reference import GATE_FORMULAS, gated, patched_gates, reference_general

RULES = ("gradient", "deconvnet", "guided")


class Written(nn.Module):
    """conv -> act -> conv -> act -> linear, the activation given as a function."""

    def __init__(self, act) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1)
        self.head = nn.Linear(6, 5)
        self.act = act

    def forward(self, x):
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        return self.head(x.mean((2, 3)))


@pytest.fixture
def images():
    torch.manual_seed(1)
    return torch.randn(2, 3, 8, 8)


def score(out):
    return out[:, 3].sum()


@pytest.mark.parametrize("spelling", GATED_SPELLINGS, ids=lambda s: s.name)
def test_every_spelling_of_a_gated_call_is_a_site(spelling, images):
    model = Written(spelling.written).eval()
    twin = Written(lambda h: gated(h, spelling.gate, spelling.plain)).eval()
    for rule in RULES:
        explanation = GuidedBackprop(model, activations="gated").explain(images, 3, rule)
        expected = reference_general(twin, (images,), score, rule)[0]
        torch.testing.assert_close(explanation.attribution, expected, rtol=1e-4, atol=1e-7)
    assert [s.kind for s in explanation.sites] == [spelling.gate] * 2
    assert explanation.not_guided == ()
    first = explanation.sites[0]
    assert first.soft and first.forward_mask.dtype == torch.float32
    with torch.no_grad():
        pre = model.conv1(images)
    torch.testing.assert_close(first.forward_mask, GATE_FORMULAS[spelling.gate](pre))


@pytest.mark.parametrize("spelling", GATED_SPELLINGS, ids=lambda s: s.name)
def test_by_default_gated_calls_are_reported_as_before(spelling, images):
    model = Written(spelling.written).eval()
    with pytest.warns(GuidedBackpropWarning, match="activations='gated'"):
        explanation = GuidedBackprop(model).explain(images, 3)
    reported = "sigmoid" if "sigmoid" in spelling.name else spelling.gate.removesuffix("_tanh")
    assert [k for _, k in explanation.not_guided] == [reported] * 2
    assert explanation.sites == ()
    leaf = images.clone().requires_grad_(True)
    (plain,) = torch.autograd.grad(score(model(leaf.clone())), leaf)
    torch.testing.assert_close(explanation.attribution, plain, rtol=1e-5, atol=1e-8)


def _edited_after_sigmoid(z):
    gate = torch.sigmoid(z)
    return z.add_(0.5) * gate


NOT_GATED = {
    "a squeeze-excite gate x * sigmoid(w(x))": (
        lambda z: z * torch.sigmoid(z.mean((2, 3), keepdim=True)),
        ["sigmoid", "sigmoid"],
    ),
    "x * sigmoid of a copy of x": (lambda z: z * torch.sigmoid(z.clone()), ["sigmoid", "sigmoid"]),
    "x edited in place after its sigmoid": (_edited_after_sigmoid, ["sigmoid", "sigmoid"]),
    "elu": (lambda z: F.elu(z), ["elu", "elu"]),
    "leaky_relu": (lambda z: F.leaky_relu(z, 0.1), ["leaky_relu", "leaky_relu"]),
    "hardsigmoid": (lambda z: F.hardsigmoid(z), ["hardsigmoid", "hardsigmoid"]),
    "softplus": (lambda z: F.softplus(z), ["softplus", "softplus"]),
    "glu": (lambda z: F.glu(torch.cat([z, z], 1), dim=1), ["glu", "glu"]),
}


@pytest.mark.parametrize("case", sorted(NOT_GATED))
def test_what_is_not_proved_gated_stays_reported(case, images):
    act, reported = NOT_GATED[case]
    model = Written(act).eval()
    with pytest.warns(GuidedBackpropWarning, match="plain gradients"):
        explanation = GuidedBackprop(model, activations="gated").explain(images, 3, "guided")
    assert [k for _, k in explanation.not_guided] == reported
    assert explanation.sites == ()
    leaf = images.clone().requires_grad_(True)
    (plain,) = torch.autograd.grad(score(model(leaf.clone())), leaf)
    torch.testing.assert_close(explanation.attribution, plain, rtol=1e-5, atol=1e-8)


def test_an_exported_program_gets_the_gates(images):
    model = Written(nn.GELU()).eval()
    exported = torch.export.export(model, (images,)).module()
    plain = GuidedBackprop(model, activations="gated").explain(images, 3)
    explanation = GuidedBackprop(exported, activations="gated").explain(images, 3)
    assert [s.kind for s in explanation.sites] == ["gelu", "gelu"]
    torch.testing.assert_close(explanation.attribution, plain.attribution)


LIBRARY = {
    "timm vit_tiny_patch16_224": (
        lambda: timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=5),
        224,
        {"gelu"},
        [],
    ),
    "torchvision vit_b_16": (
        lambda: torchvision.models.vit_b_16(weights=None, num_classes=5),
        224,
        {"gelu"},
        [],
    ),
    "torchvision convnext_tiny": (
        lambda: torchvision.models.convnext_tiny(weights=None, num_classes=5),
        64,
        {"gelu"},
        [],
    ),
    "torchvision swin_t": (
        lambda: torchvision.models.swin_t(weights=None, num_classes=5),
        64,
        {"gelu"},
        [],
    ),
    "torchvision efficientnet_b0": (
        lambda: torchvision.models.efficientnet_b0(weights=None, num_classes=5),
        64,
        {"silu"},
        ["sigmoid"] * 16,
    ),
    "torchvision mobilenet_v3_small": (
        lambda: torchvision.models.mobilenet_v3_small(weights=None, num_classes=5),
        64,
        {"hardswish", "relu"},
        ["hardsigmoid"] * 9,
    ),
}


# ViTs, ConvNeXt, Swin and others with random weights: left out of the fast subset.
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_library_models_get_the_gated_rule(name):
    build, size, kinds, remaining = LIBRARY[name]
    torch.manual_seed(0)
    model = build().eval()
    before = snapshot(model)
    x = torch.randn(1, 3, size, size)
    engine = GuidedBackprop(model, activations="gated")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuidedBackpropWarning)
        guided = engine.explain(x, 3, "guided")
        gradient = engine.explain(x, 3, "gradient", capture_masks=False)
    assert {s.kind for s in guided.sites} == kinds
    assert [k for _, k in guided.not_guided] == remaining
    with patched_gates():
        expected = reference_general(model, (x,), score, "guided")[0]
    scale = expected.abs().max().item()
    torch.testing.assert_close(guided.attribution, expected, rtol=1e-3, atol=1e-4 * scale)
    leaf = x.clone().requires_grad_(True)
    (plain,) = torch.autograd.grad(score(model(leaf.clone())), leaf)
    torch.testing.assert_close(gradient.attribution, plain, rtol=1e-5, atol=1e-6 * scale)
    assert_same(before, snapshot(model))


@pytest.mark.parametrize("value", ["swish", "GELU", None, 1, ("relu",)])
def test_unknown_activations_are_refused_with_the_choices(value):
    model = Written(nn.GELU()).eval()
    with pytest.raises(ValueError, match="use 'relu' .* or 'gated'"):
        GuidedBackprop(model, activations=value)
