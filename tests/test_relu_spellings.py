"""A ReLU is a value relation, not a name: every way of writing one gets the rules.

Each spelling is one network written two ways: with the spelling under test
for the engine, and with ``F.relu`` / ``F.hardtanh`` for the formula
reference (``tests/reference.py``), which knows only those.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gbp_widgets import GuidedBackprop, GuidedBackpropWarning
from gbp_widgets.engine.spellings import UNCOVERED
from tests.reference import reference_attribution

RULES = ("gradient", "deconvnet", "guided")

RELU_SPELLINGS = {
    "clamp(min=0)": lambda z: z.clamp(min=0),
    "torch.clamp(z, 0)": lambda z: torch.clamp(z, 0),
    "clip(min=0.0)": lambda z: z.clip(min=0.0),
    "clamp_min(z, 0)": lambda z: torch.clamp_min(z, 0),
    "z.clamp_min(0.0)": lambda z: z.clamp_min(0.0),
    "clamp_(min=0) unassigned": lambda z: (z.clamp_(min=0), z)[1],
    "clamp_min_(0) unassigned": lambda z: (z.clamp_min_(0), z)[1],
    "F.threshold(z, 0, 0)": lambda z: F.threshold(z, 0.0, 0.0),
    "nn.Threshold(0, 0)": lambda z: nn.Threshold(0.0, 0.0)(z),
    "F.threshold in place": lambda z: F.threshold(z, 0.0, 0.0, inplace=True),
    "torch.maximum(z, zeros)": lambda z: torch.maximum(z, torch.zeros_like(z)),
    "torch.maximum(zeros, z)": lambda z: torch.maximum(torch.zeros_like(z), z),
    "torch.max(z, zero scalar)": lambda z: torch.max(z, torch.tensor(0.0)),
    "torch.fmax(z, zeros)": lambda z: torch.fmax(z, torch.zeros(z.shape[1:])),
    "aten.relu.default": lambda z: torch.ops.aten.relu.default(z),
    "aten.relu_.default": lambda z: torch.ops.aten.relu_.default(z),
    "aten.relu packet": lambda z: torch.ops.aten.relu(z),
    "aten.clamp.default": lambda z: torch.ops.aten.clamp.default(z, 0.0),
    "aten.clamp_min.default": lambda z: torch.ops.aten.clamp_min.default(z, 0.0),
    "aten.threshold.default": lambda z: torch.ops.aten.threshold.default(z, 0.0, 0.0),
}

CLAMPED_SPELLINGS = {
    "clamp(0, 6)": (6.0, lambda z: z.clamp(0, 6)),
    "clamp(min=0, max=2.5)": (2.5, lambda z: torch.clamp(z, min=0.0, max=2.5)),
    "clamp_(0, 3) unassigned": (3.0, lambda z: (z.clamp_(0.0, 3.0), z)[1]),
    "aten.hardtanh.default(0, 6)": (6.0, lambda z: torch.ops.aten.hardtanh.default(z, 0.0, 6.0)),
    "aten.hardtanh_.default(0, 2)": (2.0, lambda z: torch.ops.aten.hardtanh_.default(z, 0, 2)),
    "aten.clamp.default(0, 4)": (4.0, lambda z: torch.ops.aten.clamp.default(z, 0.0, 4.0)),
}


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
        x = self.act(3 * self.conv1(x))
        x = self.act(3 * self.conv2(x))
        return self.head(x.mean((2, 3)))


def _pair(act, upper=None):
    canonical = (lambda z: F.relu(z)) if upper is None else (lambda z: F.hardtanh(z, 0.0, upper))
    return Written(act).eval(), Written(canonical).eval()


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("spelling", sorted(RELU_SPELLINGS))
def test_every_relu_spelling_gets_the_rule(spelling, rule, images):
    written, canonical = _pair(RELU_SPELLINGS[spelling])
    explanation = GuidedBackprop(written).explain(images, target=[1, 3], rule=rule)
    expected = reference_attribution(canonical, images, [1, 3], rule)
    torch.testing.assert_close(explanation.attribution, expected, rtol=1e-4, atol=1e-6)
    assert [s.kind for s in explanation.sites] == ["relu", "relu"]
    assert explanation.not_guided == ()
    with torch.no_grad():  # in-place spellings keep their meaning: same logits
        torch.testing.assert_close(explanation.logits, canonical(images))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("spelling", sorted(CLAMPED_SPELLINGS))
def test_clamp_with_an_upper_bound_is_hardtanh(spelling, rule, images):
    upper, act = CLAMPED_SPELLINGS[spelling]
    written, canonical = _pair(act, upper)
    explanation = GuidedBackprop(written).explain(images, target=[0, 2], rule=rule)
    expected = reference_attribution(canonical, images, [0, 2], rule)
    torch.testing.assert_close(explanation.attribution, expected, rtol=1e-4, atol=1e-6)
    assert {s.kind for s in explanation.sites} == {"relu6" if upper == 6 else "hardtanh"}
    forward = explanation.sites[0].forward_mask
    pre = 3 * written.conv1(images)
    assert torch.equal(forward, (pre > 0) & (pre < upper))


def test_an_exported_program_is_explained_like_its_eager_model(images):
    model, _ = _pair(lambda z: F.relu(z))
    exported = torch.export.export(model, (images,)).module()
    for rule in RULES:
        explanation = GuidedBackprop(exported).explain(images, target=[1, 3], rule=rule)
        expected = reference_attribution(model, images, [1, 3], rule)
        torch.testing.assert_close(explanation.attribution, expected, rtol=1e-4, atol=1e-6)
        assert len(explanation.sites) == 2


NOT_RECTIFIERS = {
    "clamp(min=-1)": lambda z: z.clamp(min=-1.0),
    "clamp(max=0)": lambda z: z.clamp(max=0.0),
    "torch.max(z, dim)": lambda z: torch.max(z, 1, keepdim=True).values.expand_as(z),
    "maximum of two variables": lambda z: torch.maximum(z, z.flip(1)),
}


@pytest.mark.parametrize("spelling", sorted(NOT_RECTIFIERS))
def test_look_alikes_that_are_not_rectifiers_are_left_alone(spelling, images):
    model = Written(NOT_RECTIFIERS[spelling]).eval()
    with pytest.warns(GuidedBackpropWarning, match="no ReLU-family calls"):
        explanation = GuidedBackprop(model).explain(images, target=0, rule="guided")
    leaf = images.clone().requires_grad_(True)
    (plain,) = torch.autograd.grad(model(leaf)[:, 0].sum(), leaf)
    torch.testing.assert_close(explanation.attribution, plain)
    assert explanation.not_guided == ()


UNCOVERED_CALLS = {
    "celu": lambda z: F.celu(z),
    "elu": lambda z: nn.ELU()(z),
    "gelu": lambda z: nn.GELU()(z),
    "glu": lambda z: F.glu(torch.cat([z, z], 1), dim=1),
    "hardshrink": lambda z: F.hardshrink(z),
    "hardsigmoid": lambda z: nn.Hardsigmoid()(z),
    "hardswish": lambda z: nn.Hardswish()(z),
    "leaky_relu": lambda z: nn.LeakyReLU(0.1)(z),
    "log_sigmoid": lambda z: F.logsigmoid(z),
    "mish": lambda z: nn.Mish()(z),
    "prelu": lambda z: nn.PReLU()(z),
    "rrelu": lambda z: F.rrelu(z),
    "selu": lambda z: torch.selu(z),
    "sigmoid": lambda z: z.sigmoid(),
    "silu": lambda z: nn.SiLU()(z),
    "softplus": lambda z: F.softplus(z),
    "softshrink": lambda z: F.softshrink(z),
    "softsign": lambda z: F.softsign(z),
    "tanh": lambda z: torch.tanh(z),
    "tanhshrink": lambda z: F.tanhshrink(z),
}


def test_every_uncovered_name_is_one_torch_reports():
    assert set(UNCOVERED_CALLS) == set(UNCOVERED)


@pytest.mark.parametrize("kind", sorted(UNCOVERED_CALLS))
def test_uncovered_nonlinearities_are_reported_by_their_name(kind, images):
    model = Written(UNCOVERED_CALLS[kind]).eval()
    with pytest.warns(GuidedBackpropWarning, match=kind):
        explanation = GuidedBackprop(model).explain(images)
    assert [k for _, k in explanation.not_guided] == [kind, kind]


@pytest.mark.parametrize(
    "act, kind",
    [
        (lambda z: F.threshold(z, 0.5, 0.0), "threshold"),
        (lambda z: nn.Threshold(0.0, -1.0)(z), "threshold"),
        (lambda z: F.hardtanh(z), "hardtanh"),
        (lambda z: torch.maximum(z, torch.zeros(1, 1, 1, 1, 1)).squeeze(0), "maximum"),
    ],
)
def test_rectifier_look_alikes_with_other_arguments_are_reported(act, kind, images):
    with pytest.warns(GuidedBackpropWarning, match=kind):
        explanation = GuidedBackprop(Written(act).eval()).explain(images)
    assert {k for _, k in explanation.not_guided} == {kind}
    assert explanation.sites == ()
