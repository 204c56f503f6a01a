"""Gated activations that libraries write out from smaller calls (Hugging Face's
``NewGELUActivation``, ``FastGELUActivation``, ``AccurateGELUActivation``,
``QuickGELUActivation``; timm's ``QuickGELU``) are sites with their exact gates, proved by
what the module computes; a module that only looks like one stays reported."""

import warnings

import pytest
import torch
from torch import nn

from gbp_widgets import GuidedBackprop, GuidedBackpropWarning
from tests.reference import gated, reference_general

transformers_activations = pytest.importorskip("transformers.activations")
timm_activations = pytest.importorskip("timm.layers.activations")

WRITTEN_OUT = [
    (transformers_activations.NewGELUActivation, "gelu_tanh"),
    (transformers_activations.FastGELUActivation, "gelu_tanh"),
    (transformers_activations.AccurateGELUActivation, "gelu_tanh"),
    (transformers_activations.QuickGELUActivation, "quick_gelu"),
    (timm_activations.QuickGELU, "quick_gelu"),
]


class Net(nn.Module):
    def __init__(self, activation: nn.Module) -> None:
        super().__init__()
        self.first, self.act, self.last = nn.Linear(6, 10), activation, nn.Linear(10, 4)
        self.twin_kind = None

    def forward(self, x):
        h = self.first(x)
        h = self.act(h) if self.twin_kind is None else gated(h, self.twin_kind, self.act)
        return self.last(h)


@pytest.mark.parametrize("cls, kind", WRITTEN_OUT, ids=[c.__name__ for c, _ in WRITTEN_OUT])
def test_a_written_out_gate_module_is_a_site_whose_maps_equal_the_reference(cls, kind):
    torch.manual_seed(0)
    net = Net(cls()).eval()
    x = torch.randn(5, 6)
    engine = GuidedBackprop(net, activations="gated")
    for rule in ("gradient", "deconvnet", "guided"):
        explanation = engine.explain(x, target=2, rule=rule)
        net.twin_kind = kind
        try:
            (expected,) = reference_general(net, (x,), lambda out: out[:, 2].sum(), rule)
        finally:
            net.twin_kind = None
        torch.testing.assert_close(explanation.attribution, expected, rtol=1e-4, atol=1e-6)
    assert [(site.name, site.kind, site.soft) for site in explanation.sites] == [
        ("act#1", kind, True)
    ]
    assert explanation.not_guided == ()
    gate = explanation.sites[0].forward_mask
    h = net.first(x).detach()
    torch.testing.assert_close(gate, net.act(h) / h, rtol=1e-5, atol=1e-6)


class LooksLikeGELU(nn.Module):
    """Named like a gate, computes a tanh."""

    def forward(self, x):
        return torch.tanh(x)


class InPlaceQuickGELU(nn.Module):
    def forward(self, x):
        return x.mul_(torch.sigmoid(1.702 * x))


@pytest.mark.parametrize(
    "activation, kind", [(LooksLikeGELU(), "tanh"), (InPlaceQuickGELU(), "sigmoid")]
)
def test_a_module_not_proved_to_be_a_gate_stays_reported(activation, kind):
    torch.manual_seed(0)
    net = Net(activation).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuidedBackpropWarning)
        explanation = GuidedBackprop(net, activations="gated").explain(torch.randn(2, 6))
    assert explanation.sites == ()
    assert [k for _, k in explanation.not_guided] == [kind]


def test_without_gates_a_proved_module_is_reported_once_by_its_gate():
    torch.manual_seed(0)
    net = Net(transformers_activations.NewGELUActivation()).eval()
    with pytest.warns(GuidedBackpropWarning, match="gelu_tanh \\(1 call\\)"):
        explanation = GuidedBackprop(net).explain(torch.randn(2, 6))
    assert list(explanation.not_guided) == [("act#1", "gelu_tanh")]
