"""Targets of every kind, batching, and bad input answered with a useful message."""

import numpy as np
import pytest
import torch
from torch import nn

from gbp_widgets import GuidedBackprop, GuidedBackpropWarning, Neuron
from tests.zoo import NoReLU, UncoveredMix, toy_model


@pytest.fixture
def engine():
    return GuidedBackprop(toy_model("module_relus"))


def test_single_image_gives_a_single_attribution(engine):
    x = torch.randn(3, 16, 16, dtype=torch.float64)
    explanation = engine.explain(x)
    assert explanation.attribution.shape == x.shape
    assert explanation.attribution.dtype == torch.float64
    batched = engine.explain(x[None].float())
    torch.testing.assert_close(explanation.attribution.float(), batched.attribution[0])


def test_none_target_explains_each_predicted_class(engine, images):
    explanation = engine.explain(images)
    assert torch.equal(explanation.target, explanation.logits.argmax(1))


def test_int_and_per_item_targets(engine, images):
    assert engine.explain(images, target=4).target.tolist() == [4, 4]
    assert engine.explain(images, target=[4, 9]).target.tolist() == [4, 9]
    assert engine.explain(images, target=torch.tensor([1, 2])).target.tolist() == [1, 2]


def test_batches_in_chunks_match_one_batch():
    model = toy_model("reused_relu")
    sizes_seen = []
    model.conv1.register_forward_pre_hook(lambda m, args: sizes_seen.append(args[0].shape[0]))
    x = torch.randn(5, 3, 16, 16)
    targets = [0, 1, 2, 3, 4]
    whole = GuidedBackprop(model).explain(x, target=targets)
    sizes_seen.clear()
    chunked = GuidedBackprop(model).explain(x, target=targets, batch_size=2)
    assert sizes_seen == [2, 2, 1]
    torch.testing.assert_close(chunked.attribution, whole.attribution)
    assert torch.equal(chunked.target, whole.target)
    for a, b in zip(chunked.sites, whole.sites, strict=True):
        assert a.shape == b.shape
        assert torch.equal(a.forward_mask, b.forward_mask)
        assert torch.equal(a.backward_mask, b.backward_mask)


def test_chunks_show_a_progress_bar(capsys):
    GuidedBackprop(toy_model("module_relus")).explain(torch.randn(3, 3, 8, 8), batch_size=1)
    assert "explain" in capsys.readouterr().err
    GuidedBackprop(toy_model("module_relus")).explain(torch.randn(3, 3, 8, 8))
    assert capsys.readouterr().err == ""


def test_uncovered_nonlinearities_are_listed_and_warned_once(images):
    with pytest.warns(GuidedBackpropWarning) as caught:
        explanation = GuidedBackprop(UncoveredMix()).explain(images)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "gelu" in message and "silu" in message and "leaky_relu" in message
    kinds = [kind for _, kind in explanation.not_guided]
    assert kinds == ["gelu", "silu", "sigmoid", "leaky_relu"]
    assert explanation.not_guided[0].name == "gelu#1"
    assert [s.name for s in explanation.sites] == ["UncoveredMix#1"]


def test_a_model_without_relu_warns_that_the_map_is_the_plain_gradient(images):
    with pytest.warns(GuidedBackpropWarning, match="plain input gradient"):
        explanation = GuidedBackprop(NoReLU()).explain(images)
    assert explanation.sites == ()


def test_hardtanh_that_is_not_a_rectifier_is_uncovered(images):
    class Symmetric(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.act = nn.Hardtanh(-1.0, 1.0)

        def forward(self, x):
            return self.act(self.conv(x)).mean((2, 3))

    with pytest.warns(GuidedBackpropWarning, match="hardtanh"):
        explanation = GuidedBackprop(Symmetric()).explain(images)
    assert explanation.not_guided[0].kind == "hardtanh"


BAD_INPUTS = [
    (torch.randn(16, 16), ValueError, "shape"),
    (torch.randn(1, 1, 3, 16, 16), ValueError, "shape"),
    (torch.randn(2, 1, 16, 16), ValueError, "expects 3"),
    (torch.zeros(0, 3, 16, 16), ValueError, "empty batch"),
    (torch.full((1, 3, 16, 16), float("nan")), ValueError, "NaN or infinite"),
    (torch.full((1, 3, 16, 16), float("inf")), ValueError, "NaN or infinite"),
    (torch.zeros(1, 3, 16, 16, dtype=torch.uint8), TypeError, "float tensor"),
    (np.zeros((1, 3, 16, 16), dtype=np.float32), TypeError, "torch.Tensor"),
]


@pytest.mark.parametrize("bad, error, message", BAD_INPUTS)
def test_bad_inputs_are_refused_with_a_hint(engine, images, bad, error, message):
    with pytest.raises(error, match=message):
        engine.explain(bad)
    assert engine.explain(images).attribution.shape == images.shape


BAD_TARGETS = [
    (10, ValueError, "out of range: the model has 10 classes"),
    (-1, ValueError, "out of range"),
    ([1, 2, 3], ValueError, "3 classes for 2 inputs"),
    ([1.5, 2.0], TypeError, "class indices"),
    ("cat", TypeError, "not the string"),
    (True, TypeError, "not a bool"),
    (Neuron("act9#1", 0), KeyError, "no ReLU site named 'act9#1'"),
    (Neuron("act1#2", 0), KeyError, "Did you mean 'act1#1'"),
    (Neuron("act1#1", 8), ValueError, "channel 8 is out of range"),
    (Neuron("act1#1", 0, y=3), ValueError, "both y and x"),
    (Neuron("act1#1", 0, y=40, x=0), ValueError, "outside site"),
    (lambda logits: logits, ValueError, "one score per item"),
]


@pytest.mark.parametrize("target, error, message", BAD_TARGETS)
def test_bad_targets_are_refused_with_a_hint(engine, images, target, error, message):
    with pytest.raises(error, match=message):
        engine.explain(images, target=target)


def test_bad_rule_and_batch_size(engine, images):
    with pytest.raises(ValueError, match="use one of 'gradient', 'deconvnet', 'guided'"):
        engine.explain(images, rule="smoothgrad")
    with pytest.raises(ValueError, match="positive int"):
        engine.explain(images, batch_size=0)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_models_the_engine_cannot_see_into():
    model = toy_model("module_relus")
    with pytest.raises(TypeError, match="TorchScript"):
        GuidedBackprop(torch.jit.trace(model, torch.randn(1, 3, 16, 16)))
    with pytest.raises(TypeError, match="nn.Module"):
        GuidedBackprop(lambda x: x)


def test_a_model_that_does_not_return_logits():
    class Pair(nn.Module):
        def forward(self, x):
            return x.relu(), x

    with pytest.raises(TypeError, match=r"tuple of 2: \[0\] .* shape \(1, 3, 4, 4\).*output="):
        GuidedBackprop(Pair()).explain(torch.randn(1, 3, 4, 4).requires_grad_())
