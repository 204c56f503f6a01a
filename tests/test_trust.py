"""gbp_widgets.trust: the digit scenes hold their digits inside their boxes; the table's
columns equal the metrics' definitions written again in tests/curve_reference.py; on the
trained scene model the maps that localise beat a random map; a model with gates gets the
gated row and one without does not; the figures draw every row."""

import io
import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from gbp_widgets import GuidedBackprop, guided_gradcam
from gbp_widgets.metrics import POINTING_SMOOTH
from gbp_widgets.sanity.data import load_digits_tensors
from gbp_widgets.trust import (
    TOLERANCE,
    TORCHRAY_VOC07_VGG16,
    Scenes,
    examples_figure,
    make_scenes,
    scene_sets,
    shipped_scene_model,
    table_figure,
    train_scene_model,
    trust_maps,
    trust_table,
    wilson,
)
from gbp_widgets.trust.table import GATED_ROW, SMOOTHED
from tests.curve_reference import (
    reference_curve,
    reference_pointing,
    reference_pointing_accuracy,
    reference_torchray_pointing,
)

# The fast subset leaves this out: the table scores 64 scenes, and a small scene CNN is trained.
pytestmark = pytest.mark.slow

ROWS = ["gradient", "DeconvNet", "guided", "Grad-CAM", "Guided Grad-CAM", "centre", "random"]


def small_scenes(count=12, seed=3):
    digits, labels = load_digits_tensors()
    return digits[:count], labels[:count], make_scenes(digits[:count], labels[:count], seed)


def test_each_scene_holds_its_digit_scaled_three_times_inside_the_box_of_its_ink():
    digits, labels, scenes = small_scenes()
    assert scenes.images.shape == (12, 1, 56, 56) and scenes.boxes.shape == (12, 56, 56)
    assert 0.0 <= float(scenes.images.min()) and float(scenes.images.max()) <= 1.0
    assert torch.equal(scenes.labels, labels)
    for digit, box, image in zip(digits[:, 0], scenes.boxes, scenes.images[:, 0], strict=True):
        rows, columns = np.nonzero(digit.numpy() > 0)
        box_rows, box_columns = np.nonzero(box.numpy())
        # The box is a full rectangle, three pixels per digit pixel of the ink's extent.
        height, width = np.ptp(box_rows) + 1, np.ptp(box_columns) + 1
        assert height == 3 * (np.ptp(rows) + 1) and width == 3 * (np.ptp(columns) + 1)
        assert box.sum() == height * width
        # Where the digit went: the box's corner less the ink's offset in the 8 x 8 digit.
        top, left = box_rows.min() - 3 * rows.min(), box_columns.min() - 3 * columns.min()
        big = digit.repeat_interleave(3, 0).repeat_interleave(3, 1)
        assert torch.all(image[top : top + 24, left : left + 24] >= big)


def test_scenes_are_the_same_for_a_seed_and_differ_between_seeds():
    digits, labels, first = small_scenes(seed=3)
    again = make_scenes(digits, labels, 3)
    other = make_scenes(digits, labels, 4)
    assert torch.equal(first.images, again.images) and torch.equal(first.boxes, again.boxes)
    assert not torch.equal(first.images, other.images)


@pytest.mark.parametrize(
    ("hits", "count", "low", "high"),
    # Published Wilson intervals (Newcombe, 1998, Table I: 81/263 and 15/148), and the
    # closed forms at no hits, 0 .. z²/(n + z²), and at all hits, n/(n + z²) .. 1.
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
    ],
)
def test_the_pointing_interval_is_wilsons(hits, count, low, high):
    assert wilson(hits, count) == pytest.approx((low, high), abs=1e-4)


def relu_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(4),
        nn.Conv2d(4, 6, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 10),
    ).eval()


def gelu_net():
    model = relu_net()
    model[1], model[4] = nn.GELU(), nn.GELU()
    return model


def test_the_tables_columns_are_the_pointing_game_and_the_curves_by_their_definitions():
    _, _, scenes = small_scenes(count=3)
    model = relu_net()
    table = trust_table(model, scenes, steps=4, batch_size=5)
    assert list(table.rows) == ROWS and not table.gates
    assert table.tolerance == TOLERANCE == 2 and table.steps == 4
    blurred_images = torch.from_numpy(
        np.stack([_blur(picture) for picture in scenes.images.double().numpy()])
    )
    for name, row in table.rows.items():
        values = table.maps[name]
        assert values.shape == scenes.images.shape
        for i in range(3):
            mask = scenes.boxes[i].numpy()[None]
            assert row.hits[i] == reference_pointing(values[i].numpy(), mask[0], 2)
            smooth = POINTING_SMOOTH if name in SMOOTHED else 0.0
            expected = (
                reference_torchray_pointing(values[i].numpy(), mask[0], 2, smooth)
                if smooth
                else reference_pointing(values[i].numpy(), mask[0], 2 - 1e-9)
            )
            assert row.torchray_hits[i] == expected
            label = int(scenes.labels[i])
            _, gone = reference_curve(
                model, scenes.images[i], values[i], label, 4, np.zeros((1, 56, 56)), True
            )
            _, back = reference_curve(
                model, scenes.images[i], values[i], label, 4, blurred_images[i], False
            )
            assert row.deletion[i] == pytest.approx(gone, abs=1e-6)
            assert row.insertion[i] == pytest.approx(back, abs=1e-6)
        assert row.pointing == pytest.approx(np.mean(row.hits))
        assert row.torchray == pytest.approx(
            reference_pointing_accuracy(row.torchray_hits.tolist(), scenes.labels.tolist())
        )
        low, high = row.torchray_interval
        assert 0 <= low <= row.torchray <= high <= 1


def _blur(picture):
    """torchvision's gaussian_blur at kernel 11, sigma 5, the insertion baseline."""
    import torchvision.transforms.functional as TF

    return TF.gaussian_blur(torch.from_numpy(picture), [11, 11], [5.0, 5.0]).numpy()


def test_the_maps_are_the_engines_and_the_baselines_ignore_the_picture():
    _, labels, scenes = small_scenes(count=4)
    model = relu_net()
    maps = trust_maps(model, scenes, seed=5)
    engine = GuidedBackprop(model)
    for name, rule in (("gradient", "gradient"), ("DeconvNet", "deconvnet"), ("guided", "guided")):
        assert torch.equal(maps[name], engine.explain(scenes.images, labels, rule=rule).attribution)
    cam = guided_gradcam(model, scenes.images, labels)
    assert torch.equal(maps["Grad-CAM"], cam.cam)
    assert torch.equal(maps["Guided Grad-CAM"], cam.product)
    centre = maps["centre"][0, 0]
    assert torch.equal(maps["centre"][3], maps["centre"][0])
    # Highest at TorchRay's centre point (w / 2, h / 2), falling off with the distance.
    assert int(centre.flatten().argmax()) == 28 * 56 + 28
    assert centre[28, 28] > centre[27, 27] == centre[29, 29] > centre[0, 0] >= 0
    other = trust_maps(model, scenes, seed=6)["random"]
    assert not torch.equal(maps["random"], other)
    assert torch.equal(maps["random"], trust_maps(model, scenes, seed=5)["random"])


def test_a_model_with_gates_gets_the_gated_row_and_its_map():
    _, labels, scenes = small_scenes(count=3)
    model = gelu_net()
    table = trust_table(model, scenes, steps=2)
    assert table.gates and GATED_ROW in table.rows
    expected = GuidedBackprop(model, activations="gated").explain(scenes.images, labels).attribution
    assert torch.equal(table.maps[GATED_ROW], expected)
    assert "no gated activation" not in table.text()
    assert "no gated activation in this model" in trust_table(relu_net(), scenes, steps=2).text()


def test_on_the_shipped_scene_model_the_maps_that_localise_beat_a_random_map():
    training, held_out = scene_sets()
    assert (len(training), len(held_out)) == (3000, 297)
    trained = shipped_scene_model(training, held_out)
    assert trained.train_accuracy > 0.99 and trained.test_accuracy > 0.9
    table = trust_table(trained.model, held_out.take(64), steps=10)
    for name in ("guided", "Grad-CAM", "Guided Grad-CAM"):
        assert table.rows[name].pointing > table.rows["random"].pointing + 0.3
        assert table.rows[name].torchray > table.rows["random"].torchray + 0.3
    for name in ("gradient", "guided", "Grad-CAM"):
        assert table.rows[name].deletion.mean() < table.rows["random"].deletion.mean()
        assert table.rows[name].insertion.mean() > table.rows["random"].insertion.mean()
    assert table.order("pointing")[-1] in ("random", "centre")
    assert table.order("torchray")[-1] in ("random", "centre")
    text = table.text()
    assert text.startswith("64 held-out scenes of 56 x 56 px; pointing tolerance 2 px")
    for name, published in TORCHRAY_VOC07_VGG16.items():
        assert re.search(rf"^{re.escape(name)} .* {published}$", text, re.M)
    low, high = table.rows["guided"].pointing_interval
    assert low <= table.rows["guided"].pointing <= high


def test_the_scene_model_trains_on_one_thread_from_its_seed():
    training, held_out = scene_sets()
    threads = torch.get_num_threads()
    first = train_scene_model(training.take(96), held_out.take(32))
    again = train_scene_model(training.take(96), held_out.take(32))
    assert torch.get_num_threads() == threads
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            first.model.state_dict().values(), again.model.state_dict().values(), strict=True
        )
    )
    # The shipped weights load into the same network.
    shipped = shipped_scene_model(training.take(8), held_out.take(8)).model
    assert shipped.state_dict().keys() == first.model.state_dict().keys()


def test_the_figures_draw_every_row_with_its_interval_and_the_published_figures():
    _, _, scenes = small_scenes(count=4)
    table = trust_table(relu_net(), scenes, steps=2)
    figure = table_figure(table)
    bars, deletion, insertion = figure.axes[:3]
    assert [label.get_text() for label in bars.get_yticklabels()] == ROWS
    assert "2 px" in figure.get_suptitle() and "4 held-out" in figure.get_suptitle()
    assert len(bars.patches) == len(deletion.patches) == len(insertion.patches) == len(ROWS)
    widths = [patch.get_width() for patch in deletion.patches]
    assert widths == pytest.approx([table.rows[n].deletion.mean() for n in ROWS])
    examples = examples_figure(table, 3)
    labels = [axis.get_ylabel() for axis in examples.axes if axis.get_ylabel()]
    assert labels[: len(ROWS) + 1] == ["scene", *ROWS]
    assert len(examples.axes) == 3 * (len(ROWS) + 1) + 1  # and the grey key
    assert f"within {TOLERANCE} px" in examples.get_suptitle()
    picture = io.BytesIO()
    examples.savefig(picture, format="png")
    assert picture.getvalue()[:4] == b"\x89PNG"


def test_bad_requests_are_told_what_to_do():
    _, _, scenes = small_scenes(count=2)
    table = trust_table(relu_net(), scenes, steps=1)
    with pytest.raises(ValueError, match="unknown column 'speed': use 'torchray', 'pointing'"):
        table.order("speed")
    empty = Scenes(scenes.images, scenes.labels, torch.zeros_like(scenes.boxes))
    with pytest.raises(ValueError, match=r"items \[0, 1\] have no True pixel"):
        trust_table(relu_net(), empty, steps=1)
    with pytest.raises(ValueError, match="steps must be a whole number >= 1"):
        trust_table(relu_net(), scenes, steps=0)
    assert math.isfinite(table.rows["random"].deletion.mean())
