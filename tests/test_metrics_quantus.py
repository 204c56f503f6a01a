"""explain_func: Quantus's metrics run on the engine's maps, and score them exactly as they
score the same maps computed independently and handed over."""

import numpy as np
import pytest
import quantus
import torch
from torch import nn

from gbp_widgets.metrics import explain_func
from tests.reference import reference_attribution


def small_cnn():
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 5),
    ).eval()


@pytest.fixture
def batch():
    generator = np.random.default_rng(8)
    return generator.random((6, 1, 8, 8), dtype=np.float32), np.array([0, 1, 2, 3, 4, 0])


@pytest.mark.parametrize("rule", ["gradient", "guided", "deconvnet"])
def test_the_maps_are_the_rules_maps_in_the_inputs_shape(rule, batch):
    model, (x, y) = small_cnn(), batch
    found = explain_func(rule)(model=model, inputs=x, targets=y, device="cpu")
    expected = reference_attribution(model, torch.from_numpy(x), torch.from_numpy(y), rule)
    assert found.shape == x.shape and found.dtype == np.float32
    assert np.allclose(found, expected.numpy(), atol=1e-6)


@pytest.mark.parametrize(
    "metric",
    [
        lambda: quantus.Sparseness(disable_warnings=True, display_progressbar=False),
        lambda: quantus.PixelFlipping(
            features_in_step=8,
            perturb_baseline="black",
            disable_warnings=True,
            display_progressbar=False,
        ),
    ],
    ids=["Sparseness", "PixelFlipping"],
)
def test_a_quantus_metric_scores_our_maps_as_the_same_maps_handed_over(metric, batch):
    model, (x, y) = small_cnn(), batch
    handed = reference_attribution(model, torch.from_numpy(x), torch.from_numpy(y), "guided")
    ours = metric()(
        model=model, x_batch=x, y_batch=y, a_batch=None, explain_func=explain_func("guided")
    )
    theirs = metric()(model=model, x_batch=x, y_batch=y, a_batch=handed.numpy())
    assert len(ours) == len(x)
    assert np.allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float), atol=1e-6)


def test_a_quantus_metric_that_explains_again_runs_on_our_maps(batch):
    model, (x, y) = small_cnn(), batch
    metric = quantus.MaxSensitivity(nr_samples=3, disable_warnings=True, display_progressbar=False)
    scores = metric(
        model=model,
        x_batch=x,
        y_batch=y,
        a_batch=None,
        explain_func=explain_func("guided", activations="gated"),
        device="cpu",
    )
    assert len(scores) == len(x) and np.isfinite(scores).all()


def test_wrong_arguments_are_told_what_to_do(batch):
    with pytest.raises(ValueError, match="unknown rule 'lrp'"):
        explain_func("lrp")
    with pytest.raises(TypeError, match=r"explain_func takes activations, output, batch_size"):
        explain_func("guided", layer="3")
    with pytest.raises(ValueError, match="unknown activations"):
        explain_func("guided", activations="swish")
    x, y = batch
    with pytest.raises(TypeError, match="give engine arguments"):
        explain_func("guided")(model=small_cnn(), inputs=x, targets=y, softmax=True)
