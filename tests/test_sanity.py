"""Sanity checks: the user's model is untouched, the right layers change, the metrics mean
what they say, and the paper's finding shows up on the pretrained model."""

import copy

import numpy as np
import pytest
import torch

from gbp_widgets.sanity import (
    METRICS,
    SanityResult,
    cascading_randomization,
    data_randomization,
    independent_randomization,
    normalised_map,
    parameter_blocks,
    reinitialise,
    similarities,
)
from tests.zoo import torchvision_model, toy_model

# The fast subset leaves this out: randomisation checks on real models and digits.
pytestmark = pytest.mark.slow


def test_blocks_open_containers_one_level():
    assert parameter_blocks(torchvision_model("resnet18"))[:6] == [
        "conv1",
        "bn1",
        "layer1.0",
        "layer1.1",
        "layer2.0",
        "layer2.1",
    ]
    assert parameter_blocks(toy_model("module_relus")) == ["conv1", "conv2", "conv3", "head"]


@pytest.mark.parametrize("block", ["layer4.1", "fc", "bn1"])
def test_reinitialise_changes_exactly_the_block(block):
    model = torchvision_model("resnet18")
    with torch.no_grad():  # as if trained: batch norm away from its initial 1, 0, 0, 1
        for name, value in model.state_dict().items():
            if "bn" in name or "downsample.1" in name:
                if value.is_floating_point():
                    value.uniform_(0.5, 1.5)
    before = copy.deepcopy(model.state_dict())
    reinitialise(model, block, seed=3)
    after = model.state_dict()
    for name, value in before.items():
        inside = name.startswith(block + ".")
        if inside and value.is_floating_point() and value.numel() > 1:
            assert not torch.equal(after[name], value), name
        elif not inside:
            assert torch.equal(after[name], value), name


def test_reinitialise_is_reproducible_and_leaves_the_global_rng():
    first, second = torchvision_model("resnet18"), torchvision_model("resnet18")
    state = torch.random.get_rng_state()
    reinitialise(first, "layer3.0", seed=5)
    reinitialise(second, "layer3.0", seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(first.layer3[0].conv1.weight, second.layer3[0].conv1.weight)


def test_metrics_are_one_for_identical_maps_and_low_for_unrelated_ones():
    generator = np.random.default_rng(0)
    first = normalised_map(generator.normal(size=(3, 32, 32)))
    assert all(v == pytest.approx(1.0) for v in similarities(first, first).values())
    unrelated = similarities(first, normalised_map(generator.normal(size=(3, 32, 32))))
    assert set(unrelated) == set(METRICS)
    assert all(abs(v) < 0.3 for v in unrelated.values()), unrelated
    flat = np.zeros((32, 32))
    assert similarities(flat, flat)["spearman"] == 1.0


def test_a_correlation_with_a_constant_map_is_undefined_not_zero():
    generator = np.random.default_rng(0)
    first = normalised_map(generator.normal(size=(3, 32, 32)))
    against_zero = similarities(first, np.zeros((32, 32)))
    assert np.isnan(against_zero["spearman"]) and np.isnan(against_zero["spearman_abs"])
    assert np.isnan(against_zero["hog"])
    result = SanityResult(mode="independent", rules=("guided",), steps=["original", "block"])
    for step, value in enumerate([1.0, float("nan")]):
        for metric in METRICS:
            result.records.append(
                {
                    "rule": "guided",
                    "step": step,
                    "randomised": "b",
                    "metric": metric,
                    "value": value,
                }
            )
    figure = result.figure("coffee")
    assert "x = undefined (a constant map)" in figure._suptitle.get_text()
    assert figure._suptitle.get_text().startswith("coffee: ")
    crosses = [line for line in figure.axes[0].lines if line.get_marker() == "x"]
    assert [list(line.get_xdata()) for line in crosses] == [[1]]


def test_the_users_model_is_never_touched():
    model = torchvision_model("resnet18").train()
    before = copy.deepcopy(model.state_dict())
    calls = []
    result = cascading_randomization(
        model,
        torch.randn(1, 3, 64, 64),
        max_steps=3,
        progress=lambda done, total: calls.append((done, total)),
    )
    independent_randomization(model, torch.randn(1, 3, 64, 64), max_steps=2, progress=False)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
    assert model.training
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert result.steps == ["original", "fc", "layer4.1", "layer4.0"]
    assert len(result.records) == 4 * 3 * len(METRICS)


def map_after(model, x, randomised):
    """The guided map after re-initialising ``{block: seed}`` on a copy, written out."""
    from gbp_widgets import GuidedBackprop

    working = copy.deepcopy(model)
    for block, seed in randomised.items():
        reinitialise(working, block, seed)
    target = GuidedBackprop(model).explain(x).target
    return normalised_map(GuidedBackprop(working).explain(x, target=target).attribution[0])


def test_cascading_accumulates_and_independent_does_not():
    model = toy_model("module_relus")
    x = torch.rand(1, 3, 16, 16)
    cascade = cascading_randomization(model, x, rules=("guided",), seed=10, progress=False)
    single = independent_randomization(model, x, rules=("guided",), seed=10, progress=False)
    assert cascade.steps == single.steps == ["original", "head", "conv3", "conv2", "conv1"]
    both = map_after(model, x, {"head": 11, "conv3": 12})
    only_conv3 = map_after(model, x, {"conv3": 12})
    np.testing.assert_allclose(cascade.maps[("guided", 2)], both, atol=1e-6)
    np.testing.assert_allclose(single.maps[("guided", 2)], only_conv3, atol=1e-6)
    assert not np.allclose(both, only_conv3)
    bottom_up = cascading_randomization(
        model, x, rules=("gradient",), order="bottom_up", progress=False
    )
    assert bottom_up.steps[1] == "conv1"


def test_guided_ignores_the_top_layers_where_the_gradient_does_not(lite0, capsys):
    """Adebayo et al.'s finding, measured on the offline pretrained model."""
    from gbp_widgets import sample_image

    x = lite0.preprocess(sample_image("chelsea"))
    result = cascading_randomization(lite0.model, x, max_steps=3, progress=False)
    for step in range(1, 4):
        guided = result.value("guided", step)
        gradient = result.value("gradient", step)
        print(
            f"after randomising down to {result.steps[step]}: rank correlation with the "
            f"original map, guided {guided:.3f} vs gradient {gradient:.3f}"
        )
        assert guided > gradient + 0.3
    assert result.grid().shape[1] > 4 * 96
    assert len(result.figure().axes) == len(METRICS)


def test_data_randomization_on_digits():
    """As in Adebayo et al., the shuffled-label network memorises its labels: both fit."""
    outcome = data_randomization(explained=16)
    print(
        f"accuracy true labels {outcome.true_accuracy:.3f}, "
        f"shuffled {outcome.random_accuracy:.3f}; map similarity {outcome.similarity}"
    )
    assert outcome.true_accuracy >= 0.99 and outcome.random_accuracy >= 0.99
    for rule in ("gradient", "guided"):
        assert outcome.similarity[rule]["spearman_abs"] < 0.95
    assert outcome.maps[("true", "guided")].shape == (16, 8, 8)


def test_bad_arguments():
    with pytest.raises(ValueError, match="order must be"):
        cascading_randomization(toy_model("module_relus"), torch.rand(3, 8, 8), order="random")
    with pytest.raises(ValueError, match="no parameterised blocks"):
        cascading_randomization(torch.nn.ReLU(), torch.rand(1, 3, 8, 8))
