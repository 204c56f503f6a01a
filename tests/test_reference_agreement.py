"""The engine agrees with the formula reference on every way of calling a ReLU."""

import pytest
import torch

from gbp_widgets import GuidedBackprop, Neuron
from tests.reference import (
    formula,
    patched_rectifiers,
    reference_attribution,
    reference_from_call,
    reference_seeded,
)
from tests.zoo import TORCHVISION, TOY_MODELS, torchvision_model, toy_model

# The fast subset leaves this out: torchvision models against the reference.
pytestmark = pytest.mark.slow

RULES = ("gradient", "deconvnet", "guided")


def assert_matches(actual, expected):
    scale = expected.abs().max().item()
    assert scale > 0, "reference map is all zero: the test would prove nothing"
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", sorted(TOY_MODELS))
def test_toy_models_match_reference(name, rule, images):
    model = toy_model(name)
    explanation = GuidedBackprop(model).explain(images, target=[3, 7], rule=rule)
    assert_matches(explanation.attribution, reference_attribution(model, images, [3, 7], rule))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_models_match_reference(name, rule):
    torch.manual_seed(2)
    x = torch.randn(2, 3, 64, 64)
    model = torchvision_model(name)
    explanation = GuidedBackprop(model).explain(x, target=[1, 500], rule=rule)
    assert_matches(explanation.attribution, reference_attribution(model, x, [1, 500], rule))


@pytest.mark.parametrize("rule", RULES)
def test_pretrained_lite0_matches_reference(lite0, rule):
    torch.manual_seed(3)
    x = torch.randn(1, 3, 224, 224)
    explanation = GuidedBackprop(lite0.model).explain(x, rule=rule)
    predicted = int(explanation.target[0])
    assert_matches(
        explanation.attribution, reference_attribution(lite0.model, x, [predicted], rule)
    )


def test_rules_give_different_maps(lite0):
    """Guard against an oracle and an engine that both ignore the rule."""
    torch.manual_seed(3)
    x = torch.randn(1, 3, 224, 224)
    engine = GuidedBackprop(lite0.model)
    maps = {rule: engine.explain(x, target=281, rule=rule).attribution for rule in RULES}
    assert not torch.allclose(maps["guided"], maps["gradient"])
    assert not torch.allclose(maps["guided"], maps["deconvnet"])


@pytest.mark.parametrize("rule", RULES)
def test_neuron_channel_target_matches_reference(rule):
    model = torchvision_model("resnet18")
    torch.manual_seed(4)
    x = torch.randn(1, 3, 64, 64)
    explanation = GuidedBackprop(model).explain(x, target=Neuron("layer2.0.relu#1", 5), rule=rule)
    names = [s.name for s in explanation.sites]
    call = names.index("layer2.0.relu#1")

    def channel_seed(out):
        seed = torch.zeros_like(out)
        seed[:, 5] = out[:, 5]
        return seed

    assert_matches(explanation.attribution, reference_from_call(model, x, call, channel_seed, rule))


@pytest.mark.parametrize("rule", RULES)
def test_neuron_unit_target_matches_reference(rule):
    model = toy_model("reused_relu")
    torch.manual_seed(2)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad(), patched_rectifiers(formula(rule)) as seen:
        model(x.clone())
    # The most active unit of channel 2 at the second call: a unit that surely fires.
    y, col = divmod(int(seen.outputs[1][0, 2].argmax()), 32)
    explanation = GuidedBackprop(model).explain(
        x, target=Neuron("relu#2", 2, y=y, x=col), rule=rule
    )

    def unit_seed(out):
        seed = torch.zeros_like(out)
        seed[:, 2, y, col] = out[:, 2, y, col]
        return seed

    expected = reference_from_call(model, x, 1, unit_seed, rule)
    assert expected.abs().max() > 0
    assert_matches(explanation.attribution, expected)


@pytest.mark.parametrize("rule", RULES)
def test_callable_target_matches_reference(rule, images):
    model = toy_model("functional_relus")
    explanation = GuidedBackprop(model).explain(
        images, target=lambda z: z[:, 3] - 2 * z[:, 5], rule=rule
    )

    def seed(logits):
        grad = torch.zeros_like(logits)
        grad[:, 3], grad[:, 5] = 1.0, -2.0
        return grad

    assert_matches(explanation.attribution, reference_seeded(model, images, seed, rule))
