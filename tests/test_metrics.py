"""gbp_widgets.metrics: deletion, insertion and the pointing game equal their definitions written
again in tests/curve_reference.py, on pictures and signals, with ties and steps that do not
divide the positions; a faithful map beats a random one on a trained model; bad input is told
what to do and leaves the model as it was."""

import numpy as np
import pytest
import torch
from torch import nn

from gbp_widgets import GuidedBackprop
from gbp_widgets.metrics import (
    POINTING_SMOOTH,
    blurred,
    deletion,
    insertion,
    pointing_accuracy,
    pointing_game,
    saliency,
)
from tests.curve_reference import (
    reference_blur,
    reference_curve,
    reference_pointing,
    reference_pointing_accuracy,
    reference_torchray_pointing,
)


def picture_model():
    torch.manual_seed(0)
    return (
        nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(6 * 5 * 4, 7),
        )
        .double()
        .eval()
    )


def signal_model():
    torch.manual_seed(1)
    return (
        nn.Sequential(nn.Conv1d(2, 5, 5, padding=2), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 13, 4))
        .double()
        .eval()
    )


def tied(attribution):
    """The same map rounded to a few levels, so many positions tie."""
    return torch.round(attribution * 2) / 2


CASES = {
    # name: (model, inputs (N, C, *spatial), attribution maker)
    "pictures": (picture_model, (3, 3, 10, 8), lambda a: a),
    "pictures with ties": (picture_model, (3, 3, 10, 8), tied),
    "pictures, all tied": (picture_model, (2, 3, 10, 8), torch.zeros_like),
    "signals": (signal_model, (3, 2, 13), lambda a: a),
    "signals with ties": (signal_model, (3, 2, 13), tied),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("steps", [1, 7, 10, 100])
@pytest.mark.parametrize("curve", ["deletion", "insertion"])
def test_curves_equal_their_definition(case, steps, curve):
    make_model, shape, shape_map = CASES[case]
    model = make_model()
    generator = torch.Generator().manual_seed(steps)
    inputs = torch.rand(shape, generator=generator, dtype=torch.float64)
    attribution = shape_map(torch.randn(shape, generator=generator, dtype=torch.float64))
    target = torch.arange(len(inputs)) % 2 + 1
    function, delete = (deletion, True) if curve == "deletion" else (insertion, False)
    curves = function(model, inputs, attribution, target, steps=steps, batch_size=5)
    baseline = torch.zeros_like(inputs) if delete else reference_blur(inputs)
    assert len(curves) == len(inputs)
    for i, found in enumerate(curves):
        scores, area = reference_curve(
            model, inputs[i], attribution[i], int(target[i]), steps, baseline[i], delete
        )
        assert np.allclose(found.fractions, np.arange(steps + 1) / steps, atol=0, rtol=0)
        assert np.allclose(found.scores, scores, atol=1e-6, rtol=0)
        assert abs(found.auc - area) < 1e-6


def test_float32_models_numpy_maps_a_given_baseline_and_one_target_for_all():
    model = picture_model().float()
    generator = torch.Generator().manual_seed(3)
    inputs = torch.rand(4, 3, 10, 8, generator=generator)
    attribution = torch.randn(4, 3, 10, 8, generator=generator).numpy()
    baseline = torch.full_like(inputs, 0.5)
    curves = deletion(model, inputs, attribution, 3, steps=9, baseline=baseline, batch_size=3)
    for i, found in enumerate(curves):
        scores, area = reference_curve(model, inputs[i], attribution[i], 3, 9, baseline[i], True)
        assert np.allclose(found.scores, scores, atol=1e-6, rtol=0)
        assert abs(found.auc - area) < 1e-6


def test_no_target_means_each_items_predicted_class():
    model = picture_model()
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(5, 3, 10, 8, generator=generator, dtype=torch.float64) * 4
    attribution = torch.randn_like(inputs)
    with torch.no_grad():
        predicted = model(inputs).argmax(1)
    assert len(set(predicted.tolist())) > 1
    assert [c.auc for c in insertion(model, inputs, attribution, steps=5)] == [
        c.auc for c in insertion(model, inputs, attribution, predicted, steps=5)
    ]


@pytest.mark.parametrize("shape", [(2, 3, 12, 9), (2, 1, 6, 30), (1, 2, 7, 6, 8), (3, 1, 40)])
def test_the_blurred_baseline_is_torchvisions_blur_for_pictures_and_the_same_kernel_else(shape):
    inputs = torch.rand(shape, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(blurred(inputs), reference_blur(inputs), atol=1e-6, rtol=0)


def test_saliency_is_the_channel_maximum_of_the_magnitude():
    values = np.array([[[[1.0, -3.0]], [[-2.0, 2.5]]]])  # (1, 2, 1, 2)
    assert saliency(values).tolist() == [[[2.0, 3.0]]]
    assert saliency(torch.from_numpy(values)).tolist() == [[[2.0, 3.0]]]


def _maps_and_boxes(generator, shape: tuple[int, int, int, int]):
    """Random maps of ``shape`` ``(N, C, H, W)`` and, for each, a 4 x 4 box at a random place."""
    count, _, height, width = shape
    masks = np.zeros((count, height, width), dtype=bool)
    for i in range(count):
        top, left = generator.integers(0, height - 4), generator.integers(0, width - 4)
        masks[i, top : top + 4, left : left + 4] = True
    return generator.normal(size=shape), masks


def test_the_pointing_game_equals_its_definition_with_ties_and_the_boundary():
    generator = np.random.default_rng(6)
    attribution, masks = _maps_and_boxes(generator, (40, 2, 20, 24))
    for tolerance in (0, 3, 5.5, 15):
        found = pointing_game(attribution, masks, tolerance=tolerance)
        expected = [
            reference_pointing(a, m, tolerance) for a, m in zip(attribution, masks, strict=True)
        ]
        assert found.dtype == bool and found.tolist() == expected
    assert 0 < pointing_game(attribution, masks, tolerance=3).sum() < 40
    # Two equal peaks: the first in flat order counts. A distance of exactly 5 is a hit.
    map_ = np.zeros((1, 1, 12, 12))
    map_[0, 0, 1, 1] = map_[0, 0, 10, 10] = 1.0
    near_second = np.zeros((1, 12, 12), dtype=bool)
    near_second[0, 10, 11] = True
    assert pointing_game(map_, near_second, tolerance=5).tolist() == [False]
    on_circle = np.zeros((1, 12, 12), dtype=bool)
    on_circle[0, 4, 5] = True  # 3-4-5 from (1, 1)
    assert pointing_game(torch.from_numpy(map_), on_circle, tolerance=5).tolist() == [True]
    assert pointing_game(map_, on_circle, tolerance=4.99).tolist() == [False]


def test_a_models_own_gradient_deletes_faster_than_a_random_map_on_a_trained_model():
    from gbp_widgets.sanity.data import load_digits_tensors, train

    images, labels = load_digits_tensors()
    model = train(images[:1200], labels[:1200], epochs=60, seed=0, goal=0.97)
    held_out, truth = images[1200:1320], labels[1200:1320]
    gradient = GuidedBackprop(model).explain(held_out, truth, rule="gradient").attribution
    random = torch.rand(held_out.shape, generator=torch.Generator().manual_seed(7))
    faithful = [c.auc for c in deletion(model, held_out, gradient, truth, steps=16)]
    chance = [c.auc for c in deletion(model, held_out, random, truth, steps=16)]
    assert np.mean(faithful) < np.mean(chance) - 0.1
    # Insertion, the other way round: the gradient's positions bring the class back sooner.
    faithful = [c.auc for c in insertion(model, held_out, gradient, truth, steps=16)]
    chance = [c.auc for c in insertion(model, held_out, random, truth, steps=16)]
    assert np.mean(faithful) > np.mean(chance) + 0.05


class Dense(nn.Module):
    def forward(self, x):
        return x[:, :2] * 1.0  # (N, 2, H, W): scores at every position, not class scores


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"attribution": torch.zeros(2, 3, 10, 7)}, ValueError, "differs from the inputs'"),
        ({"steps": 0}, ValueError, "steps must be a whole number >= 1, got 0"),
        ({"steps": 2.5}, ValueError, "steps must be a whole number"),
        ({"batch_size": 0}, ValueError, "batch_size must be a whole number >= 1"),
        ({"target": 7}, ValueError, "target class 7 is out of range: the model has 7 classes"),
        ({"target": -1}, ValueError, "target class -1 is out of range"),
        ({"target": [1, 2, 3]}, ValueError, "target has shape (3,) for 2 inputs"),
        ({"target": 1.5}, TypeError, "class indices"),
        ({"target": True}, TypeError, "not a bool"),
        ({"baseline": "noise"}, ValueError, "unknown baseline 'noise': use 'zeros', 'blur'"),
        ({"baseline": torch.zeros(1, 3, 10, 8)}, ValueError, "must have the inputs' shape"),
        ({"model": Dense()}, TypeError, "need class scores (N, K)"),
        ({"attribution": torch.full((2, 3, 10, 8), float("nan"))}, ValueError, "NaN"),
        (
            {"inputs": torch.zeros(2, 3, 4, 4), "attribution": torch.zeros(2, 3, 4, 4)},
            ValueError,
            "every spatial side must be longer than 5",
        ),
        (
            {"inputs": torch.zeros(2, 5), "attribution": torch.zeros(2, 5)},
            ValueError,
            "a table (N, F) becomes (N, 1, F)",
        ),
    ],
)
def test_bad_calls_are_told_what_to_do_and_leave_the_model_as_it_was(change, error, words):
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(7)
    )
    model(torch.rand(2, 3, 10, 8))  # materialise; training mode stays on
    state = {k: v.clone() for k, v in model.state_dict().items()}
    call = {
        "model": model,
        "inputs": torch.rand(2, 3, 10, 8),
        "attribution": torch.rand(2, 3, 10, 8),
        "target": 1,
        "steps": 4,
        "baseline": "blur",
        "batch_size": 3,
    } | change
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        insertion(**call)
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_a_good_call_also_leaves_a_model_in_training_mode_untouched():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten())
    model.append(nn.Linear(4 * 8 * 6, 5))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    inputs = torch.rand(3, 3, 10, 8)
    curves = deletion(model, inputs, torch.rand_like(inputs), 2, steps=6)
    assert len(curves) == 3 and model.training
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_the_pointing_game_as_torchray_scores_it_equals_a_reference_written_here():
    generator = np.random.default_rng(11)
    attribution, masks = _maps_and_boxes(generator, (30, 3, 22, 26))
    labels = generator.integers(0, 4, size=30)
    for tolerance in (2, 4):
        found = pointing_game(attribution, masks, tolerance, smooth=POINTING_SMOOTH, strict=True)
        expected = [
            reference_torchray_pointing(a, m, tolerance, POINTING_SMOOTH)
            for a, m in zip(attribution, masks, strict=True)
        ]
        assert found.tolist() == expected
        assert pointing_accuracy(found, labels) == pytest.approx(
            reference_pointing_accuracy(expected, labels.tolist())
        )
    # Smoothing moves peaks: a lone spike loses to a broad bump that the spike outshone.
    spike = np.zeros((1, 1, 40, 40))
    spike[0, 0, 5, 5] = 3.0
    spike[0, 0, 25:35, 25:35] = 1.0
    on_bump = np.zeros((1, 40, 40), dtype=bool)
    on_bump[0, 30, 30] = True
    assert pointing_game(spike, on_bump, 2).tolist() == [False]
    assert pointing_game(spike, on_bump, 2, smooth=POINTING_SMOOTH).tolist() == [True]
    # A peak exactly at the tolerance hits unless the game is strict (TorchRay's <).
    map_ = np.zeros((1, 1, 12, 12))
    map_[0, 0, 1, 1] = 1.0
    on_circle = np.zeros((1, 12, 12), dtype=bool)
    on_circle[0, 4, 5] = True  # 3-4-5 from (1, 1)
    assert pointing_game(map_, on_circle, 5).tolist() == [True]
    assert pointing_game(map_, on_circle, 5, strict=True).tolist() == [False]
    # The mean of the classes' shares, not the share of items: a rare class weighs as much.
    assert pointing_accuracy(np.array([True, True, True, False]), [0, 0, 0, 1]) == 0.5


@pytest.mark.parametrize(
    ("shape", "arguments", "words"),
    [
        ((2, 3, 8, 8), {"smooth": -0.1}, "smooth must be a share"),
        ((2, 3, 16), {"smooth": 0.02}, "smoothing is for pictures' maps"),
    ],
)
def test_bad_smoothing_is_told_what_to_do(shape, arguments, words):
    masks = np.ones((shape[0], *shape[2:]), dtype=bool)
    with pytest.raises(ValueError, match=words):
        pointing_game(np.random.default_rng(0).normal(size=shape), masks, 2, **arguments)


def test_pointing_accuracy_refuses_labels_that_do_not_match():
    with pytest.raises(ValueError, match="one class per item"):
        pointing_accuracy(np.array([True, False]), [0, 1, 2])


@pytest.mark.parametrize(
    ("masks", "tolerance", "error", "words"),
    [
        (np.zeros((2, 8, 7), dtype=bool), 15, ValueError, "do not match the attribution's"),
        (np.ones((2, 8, 8)), 15, TypeError, "masks must be bool"),
        (np.zeros((2, 8, 8), dtype=bool), 15, ValueError, "items [0, 1] have no True pixel"),
        (np.ones((2, 8, 8), dtype=bool), -1, ValueError, "tolerance must be a distance"),
    ],
)
def test_bad_pointing_games_are_told_what_to_do(masks, tolerance, error, words):
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        pointing_game(np.random.default_rng(0).normal(size=(2, 3, 8, 8)), masks, tolerance)
