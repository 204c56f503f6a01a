"""The Explorer's session, state table and views, without any widget: every kind of input
and output gives the engine's own explanation, drawn by the site's own shape."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from gbp_widgets import GuidedBackprop, Neuron, Region
from gbp_widgets.explore import (
    ALL_CHANNELS,
    STATE,
    Cut,
    DetectionScore,
    Effect,
    ExplorerSession,
    View,
    problem,
)
from gbp_widgets.explore.output_kinds import ClassScores, DenseMap, Detections
from gbp_widgets.explore.sites import site_unit
from tests.kinds import PhotoAndRecord, PulseNet, TableNet, TinySegmenter, VolumeNet, built

SIZE = 96


def _direct(model, inputs, target, rule="guided", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GuidedBackprop(model).explain(inputs, target=target, rule=rule, **kwargs)


def _assert_same(shown, direct):
    shown_a, direct_a = shown.attribution, direct.attribution
    shown_a = shown_a if isinstance(shown_a, tuple) else (shown_a,)
    direct_a = direct_a if isinstance(direct_a, tuple) else (direct_a,)
    for a, b in zip(shown_a, direct_a, strict=True):
        assert a.shape == b.shape and a.shape[0] == 1
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [s.name for s in shown.sites] == [s.name for s in direct.sites]
    for a, b in zip(shown.sites, direct.sites, strict=True):
        assert torch.equal(a.forward_mask, b.forward_mask)
        assert torch.equal(a.backward_mask, b.backward_mask)


CASES = {
    "signal": lambda: (built(PulseNet(2)), torch.randn(3, 2, 40), {}),
    "table": lambda: (built(TableNet()), torch.randn(4, 6), {}),
    "volume": lambda: (built(VolumeNet()), torch.randn(2, 1, 8, 10, 12), {}),
    "image": lambda: (built(TinySegmenter()), torch.randn(2, 3, 16, 16), {}),
    "two inputs": lambda: (
        built(PhotoAndRecord()),
        (torch.randn(2, 3, 8, 8), torch.randn(2, 5)),
        {"forward_args": (2.0,)},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("rule", ["gradient", "deconvnet", "guided"])
def test_the_explanation_is_the_engines_for_the_item_shown(case, rule):
    model, inputs, extra = CASES[case]()
    session = ExplorerSession(model, inputs, **extra)
    session.set_item(1)
    target = session.class_target(1)
    one = tuple(t[1:2] for t in inputs) if isinstance(inputs, tuple) else inputs[1:2]
    _assert_same(session.explanation(target, rule), _direct(model, one, target, rule, **extra))
    assert (session.inputs[0] if isinstance(one, tuple) else session.inputs).shape[0] == 1


def test_kinds_are_chosen_from_the_input_shape():
    kinds = {case: ExplorerSession(*CASES[case]()[:2], **CASES[case]()[2]) for case in CASES}
    assert {case: tuple(k.kind for k in s.kinds) for case, s in kinds.items()} == {
        "signal": ("signal",),
        "table": ("table",),
        "volume": ("volume",),
        "image": ("image",),
        "two inputs": ("image", "table"),
    }
    assert isinstance(kinds["image"].output_kind, DenseMap)
    assert isinstance(kinds["two inputs"].output_kind, ClassScores)


def test_a_signal_is_drawn_as_curves_and_its_sites_as_channels_by_positions():
    model, inputs, _ = CASES["signal"]()
    session = ExplorerSession(model, inputs)
    panels = session.panels(View(target=0, site=1), SIZE)
    assert panels["input"].shape == (SIZE, SIZE, 4)
    # Curves on white: most of the picture is background, the curves are coloured.
    assert (panels["input"][..., :3] == 255).all(axis=-1).mean() > 0.8
    assert panels["forward"].shape[:2] == (16, 40), "16 channels x 40 positions"
    one = session.panels(View(target=0, site=1, channel=3), SIZE)
    assert one["forward"].shape[:2] == (1, 40)
    mask = session.site_masks(session.result(0, "guided"), 1)["forward"][3]
    assert np.array_equal(one["forward"][0, :, 0] == 255, mask)


def test_signal_pointer_positions_map_to_samples_and_units():
    model, inputs, _ = CASES["signal"]()
    session = ExplorerSession(model, inputs)
    values = session.readout(View(target=0, site=0), 5, SIZE - 1, SIZE)
    assert values["where"] == "position 39"
    assert values["input"] == pytest.approx(tuple(inputs[0, :, 39].tolist()))
    assert site_unit((16, 40), 5 * SIZE // 16 + 1, 0, SIZE, ALL_CHANNELS, None) == (5, (0,))


def test_a_vector_site_in_a_convolutional_model_is_drawn_as_cells_not_stretched():
    model, inputs, _ = CASES["volume"]()
    session = ExplorerSession(model, inputs)
    head = len(session.site_names) - 1
    assert session.site_shape(head) == (5,)
    panels = session.panels(View(target=0, site=head), SIZE)
    assert panels["forward"].shape[:2] == (1, 5), "a row of five cells"
    assert session.unit_at(View(target=0, site=head), 0, SIZE - 1, SIZE) == (4, ())


def test_volume_slices_cut_the_input_and_the_site_at_the_matching_depth():
    model, inputs, _ = CASES["volume"]()
    session = ExplorerSession(model, inputs)
    first = session.panels(View(target=0, site=1, cut=Cut(0, 0, 8)), SIZE)
    last = session.panels(View(target=0, site=1, cut=Cut(0, 7, 8)), SIZE)
    assert not np.array_equal(first["input"], last["input"])
    # Site 1 follows a 2x pooling: depth 7 of the input is depth 3 of the site.
    masks = session.site_masks(session.result(0, "guided"), 1)["forward"]
    assert last["forward"].shape[:2] == masks.shape[2:]
    assert np.allclose(last["forward"][..., 0] / 255, masks[:, 3].mean(0), atol=1 / 255)
    across = session.panels(View(target=0, site=1, cut=Cut(2, 5, 12)), SIZE)
    assert across["forward"].shape[:2] == (masks.shape[1], masks.shape[2])
    spot = session.kinds[0].locate(0, SIZE - 1, SIZE, Cut(2, 5, 12))
    assert spot.words == "voxel (d=0, y=9, x=5)"


def test_a_table_is_drawn_as_labelled_bars_and_hover_names_the_feature():
    model, inputs, _ = CASES["table"]()
    names = ["age", "height", "weight", "pulse", "sugar", "sleep"]
    session = ExplorerSession(model, inputs, feature_names=names)
    panels = session.panels(View(target=2), SIZE)
    assert panels["attribution"].shape == (SIZE, SIZE, 4)
    values = session.readout(View(target=2), SIZE // 6 * 3 + 2, 50, SIZE)
    assert values["where"] == "pulse (#3)"
    direct = _direct(model, inputs[:1], 2)
    assert values["attribution"] == pytest.approx((float(direct.attribution[0, 3]),))
    with pytest.raises(ValueError, match="2 feature names given for 6 features"):
        ExplorerSession(model, inputs, feature_names=["a", "b"])


def test_a_table_row_can_be_shown_as_a_curve():
    model, inputs, _ = CASES["table"]()
    session = ExplorerSession(model, inputs, kinds=("signal",))
    assert session.kind == "signal" and session.input_values().shape == (1, 6)
    with pytest.raises(ValueError, match="cannot be shown as 'volume'"):
        ExplorerSession(model, inputs, kinds=("volume",))


def test_a_dense_output_offers_regions_and_a_click_picks_the_connected_region():
    model, inputs, _ = CASES["image"]()
    session = ExplorerSession(model, inputs)
    assert session.target_kinds()[:2] == ("class", "region")
    labels = session.predicted_labels()
    assert labels.shape == (16, 16)
    region = session.output_kind.region_at(SIZE // 2, SIZE // 2, SIZE, Cut())
    y = x = 8
    assert region.cls == labels[y, x] and region.mask[y, x]
    # 4-connected: every masked position has the class, and no neighbour of the region
    # with the same class is left out.
    assert (labels[region.mask] == region.cls).all()
    grown = region.mask.copy()
    grown[1:] |= region.mask[:-1]
    grown[:-1] |= region.mask[1:]
    grown[:, 1:] |= region.mask[:, :-1]
    grown[:, :-1] |= region.mask[:, 1:]
    assert not ((grown & ~region.mask) & (labels == region.cls)).any()
    _assert_same(session.explanation(region, "guided"), _direct(model, inputs[:1], region))
    picture = session.panels(View(target=region, chosen=region), SIZE)["output"]
    assert picture.shape[:2] == (16, 16)
    dimmed = session.panels(View(target=region, chosen=None), SIZE)["output"]
    assert not np.array_equal(picture, dimmed), "the chosen region stands out"


def test_a_torchvision_segmentation_model_with_random_weights():
    from torchvision.models.segmentation import fcn_resnet50

    torch.manual_seed(0)
    model = fcn_resnet50(weights=None, weights_backbone=None, num_classes=3, aux_loss=False)
    inputs = torch.randn(1, 3, 48, 48)
    session = ExplorerSession(model.eval(), inputs)
    assert isinstance(session.output_kind, DenseMap) and session.recording.logits.shape == (
        1,
        3,
        48,
        48,
    )
    region = session.output_kind.region_at(10, 10, SIZE, Cut())
    _assert_same(session.explanation(region, "guided"), _direct(model, inputs, region))


def test_a_torchvision_detector_lists_boxes_and_a_click_picks_a_box():
    from tests.kinds import detector, smallest_box

    model = detector()
    torch.manual_seed(1)
    inputs = torch.rand(1, 3, 96, 96)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = ExplorerSession(model, inputs)
    assert isinstance(session.output_kind, Detections)
    found = session.detections(0.0)
    assert found and all(a.score >= b.score for a, b in zip(found, found[1:], strict=False))
    smallest = smallest_box(found)
    x0, y0, x1, y1 = smallest.box
    row, column = int((y0 + y1) / 2 * SIZE / 96), int((x0 + x1) / 2 * SIZE / 96)
    picked = session.detection_at(row, column, SIZE, 0.0)
    assert picked is not None and picked.box[0] <= (column + 0.5) * 96 / SIZE <= picked.box[2]
    target = DetectionScore(picked.index)
    _assert_same(session.explanation(target, "guided"), _direct(model, inputs, target))
    boxed = session.panels(View(target=target, chosen=picked.index, score_threshold=0.0), SIZE)[
        "input"
    ]
    plain = session.kinds[0].input_picture(None, session.photo(), SIZE, Cut())
    assert not np.array_equal(boxed, plain), "boxes are drawn on the input"


def test_unit_targets_at_sites_of_every_rank_are_the_engines():
    for case in ("signal", "volume", "table"):
        model, inputs, _ = CASES[case]()
        session = ExplorerSession(model, inputs)
        site = 0
        channel, position = session.unit_at(View(target=0, site=site, channel=1), 3, 5, SIZE)
        target = Neuron(session.site_names[site], channel, position=position or None)
        _assert_same(session.explanation(target, "guided"), _direct(model, inputs[:1], target))


@pytest.mark.parametrize(
    "shape, dtype, message",
    [
        ((2, 1, 2, 3, 4, 5, 6), torch.float32, "the Explorer shows images"),
        ((2, 12), torch.uint8, "Scale a picture's pixels to floats"),
    ],
)
def test_inputs_the_explorer_cannot_show_are_refused_saying_what_it_shows(shape, dtype, message):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
    with pytest.raises((ValueError, TypeError), match=message) as caught:
        ExplorerSession(model, torch.zeros(shape, dtype=dtype))
    assert "(N, C, L)" in str(caught.value) or "forward_args" in str(caught.value)


def test_the_state_table_says_what_each_change_costs_and_checks_every_trait():
    assert STATE["rule"].effect is Effect.BACKWARD
    assert STATE["site"].effect is Effect.RENDER
    assert STATE["item"].effect is Effect.INPUT
    model, inputs, _ = CASES["signal"]()
    session = ExplorerSession(model, inputs)
    state = {"site": 0, "axis": 0, "input_index": 0}
    assert problem("target_kind", "bogus", session, state).startswith("unknown target kind")
    assert "does not fit" in problem("target_kind", "region", session, state)
    assert "whole numbers" in problem("unit", ("a", "b"), session, state)
    assert "not a position" in problem("unit", (10**6,), session, state)
    assert "out of range" in problem("item", 3, session, state)
    assert problem("item", 2, session, state) == ""
    assert "for signals" in problem("display", "overlay", session, state)
    assert "feature map" in problem("rule", "gradcam", session, state)
    assert "only volumes" in problem("slice", 2, session, state)


def test_a_failed_item_change_keeps_the_item_shown():
    model, inputs, _ = CASES["signal"]()
    session = ExplorerSession(model, inputs)
    session.set_item(2)
    with pytest.raises(ValueError, match="out of range"):
        session.set_item(9)
    assert session.item == 2 and torch.equal(session.inputs, inputs[2:3])


def test_the_session_imports_no_widget_library():
    code = (
        "import sys, gbp_widgets.explore; "
        "widgets = ('ipywidgets', 'ipycanvas', 'anywidget', 'traitlets'); "
        "print(sorted(m for m in widgets if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_region_trait_value_is_checked_against_the_outputs_positions():
    model, inputs, _ = CASES["image"]()
    session = ExplorerSession(model, inputs)
    state = {"site": 0, "axis": 0, "input_index": 0}
    assert "shape (16, 16)" in problem("region", Region(1, np.ones((4, 4), bool)), session, state)
    assert problem("region", Region(1, np.ones((16, 16), bool)), session, state) == ""
    assert "out of range" in problem("region", Region(7, np.ones((16, 16), bool)), session, state)


def test_a_point_outside_every_box_picks_no_detection():
    from gbp_widgets.explore import Detection
    from gbp_widgets.explore.output_base import detection_at

    found = [
        Detection(0, 1, 0.9, (10.0, 10.0, 50.0, 50.0)),
        Detection(1, 2, 0.8, (20.0, 20.0, 30.0, 30.0)),
    ]
    assert detection_at(found, 60.0, 60.0) is None
    assert detection_at(found, 25.0, 25.0).index == 1, "the smallest box holding the point"
    assert detection_at(found, 12.0, 45.0).index == 0


def test_per_item_extra_arguments_are_sliced_with_the_item():
    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Linear(4, 3)

        def forward(self, x, scale, bias=0.0):
            return torch.relu(self.body(x)) * scale + bias

    model = built(Scaled())
    inputs, scale = torch.randn(3, 4), torch.tensor([[1.0], [-2.0], [3.0]])
    bias = torch.randn(3, 3)
    session = ExplorerSession(model, inputs, forward_args=(scale,), forward_kwargs={"bias": bias})
    session.set_item(1)
    direct = _direct(
        model, inputs[1:2], 0, forward_args=(scale[1:2],), forward_kwargs={"bias": bias[1:2]}
    )
    _assert_same(session.explanation(0, "guided"), direct)
    assert torch.equal(session.recording.logits, direct.logits)


def _counting_forwards(model: torch.nn.Module) -> list[int]:
    calls: list[int] = []
    model.register_forward_hook(lambda *_: calls.append(1))
    return calls


def test_an_item_drawn_ahead_is_shown_later_without_another_pass():
    model, inputs, _ = CASES["signal"]()
    forwards = _counting_forwards(model)
    session = ExplorerSession(model, inputs)
    shown, result = session.recording, session.result(1, "guided")
    with session.another_item(2):
        assert session.item == 2 and torch.equal(session.inputs, inputs[2:3])
        ahead = session.result(0, "gradient")
    # The item shown is back as it was: its recording and its passes.
    assert session.item == 0 and session.recording is shown
    assert session.result(1, "guided") is result
    before = len(forwards)
    session.set_item(2)
    assert len(forwards) == before, "the item drawn ahead was recorded again"
    assert session.result(0, "gradient") is ahead
    _assert_same(session.explanation(0, "gradient"), _direct(model, inputs[2:3], 0, "gradient"))
    # The item left is kept too: a step back needs no forward pass either.
    before = len(forwards)
    session.set_item(0)
    assert len(forwards) == before and session.recording is shown


def test_items_kept_for_later_are_dropped_with_the_inputs_and_the_layer():
    model, inputs, _ = CASES["image"]()
    session = ExplorerSession(model, inputs)
    with session.another_item(1):
        pass
    other = torch.randn(2, 3, 16, 16)
    session.set_inputs(other)
    session.set_item(1)
    _assert_same(
        session.explanation(session.output_kind.region(0), "guided"),
        _direct(model, other[1:2], Region(0)),
    )
    with session.another_item(0):
        pass
    session.set_layer("conv1")
    forwards = _counting_forwards(model)
    session.set_item(0)
    assert forwards, "an item recorded for another Grad-CAM layer was shown"
    assert session.recording.kept.keys() >= {"conv1"}


def test_has_pass_says_which_passes_a_picture_can_be_drawn_from():
    model, inputs, _ = CASES["image"]()
    session = ExplorerSession(model, inputs)
    target = session.output_kind.region(0)
    assert not session.has_pass(target, "gradcam")
    session.result(target, "gradcam")
    # Guided Grad-CAM is made from the guided pass, which is kept as well.
    assert session.has_pass(target, "gradcam") and session.has_pass(target, "guided")
    assert not session.has_pass(session.output_kind.region(1), "guided")
    session.set_layer("conv1")
    assert not session.has_pass(target, "gradcam"), "a pass for another Grad-CAM layer"


def test_a_failed_item_ahead_leaves_the_item_shown():
    model, inputs, _ = CASES["signal"]()
    session = ExplorerSession(model, inputs)
    shown = session.recording
    with pytest.raises(ValueError, match="out of range"), session.another_item(5):
        pass
    with pytest.raises(RuntimeError, match="on purpose"), session.another_item(1):
        raise RuntimeError("on purpose")
    assert session.item == 0 and session.recording is shown
