"""The Explorer widget on every kind of model: the controls it offers, the picture is the
engine's answer, clicks pick units, regions and boxes, bad values keep the old state."""

import warnings

import numpy as np
import pytest
import torch
import traitlets

from gbp_widgets import Explorer, GuidedBackprop, Neuron, Region
from gbp_widgets.explore import DetectionScore
from tests import page
from tests.kinds import PhotoAndRecord, PulseNet, TableNet, TinySegmenter, VolumeNet, built

SIZE = 64


def _direct(model, inputs, target, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GuidedBackprop(model).explain(inputs, target=target, **kwargs)


def test_inputs_reach_the_model_and_the_item_slider_browses_them():
    model, signals = built(PulseNet(2)), torch.randn(5, 2, 30)
    explorer = Explorer(model=model, inputs=signals, panel_size=SIZE)
    assert explorer.controls.item.max == 4 and explorer.controls.item.layout.display == ""
    assert explorer.controls.image.layout.display == "none", "no photo menu for signals"
    before = explorer.refresh()["input"]
    explorer.controls.item.value = 3
    assert explorer.item == 3 and torch.equal(explorer.inputs, signals[3:4])
    assert not np.array_equal(explorer.refresh()["input"], before)
    target = explorer.target
    direct = _direct(model, signals[3:4], target)
    assert torch.equal(explorer.explanation.attribution, direct.attribution)


def test_an_item_out_of_range_is_refused_in_place_and_the_item_kept():
    explorer = Explorer(model=built(PulseNet(2)), inputs=torch.randn(3, 2, 30), panel_size=SIZE)
    explorer.item = 1
    explorer.controls.item.value = 1
    with pytest.raises(traitlets.TraitError, match="item 7 is out of range"):
        explorer.item = 7
    assert explorer.item == 1 and explorer.controls.item.value == 1


def test_bad_values_for_new_traits_are_refused_and_kept():
    explorer = Explorer(model=built(PulseNet(2)), inputs=torch.randn(3, 2, 30), panel_size=SIZE)
    shown = explorer.refresh()
    for name, value, words in [
        ("target_kind", "bogus", "unknown target kind"),
        ("unit", ("a", "b"), "whole numbers"),
        ("unit", (10**6,), "not a position"),
        ("display", "overlay", "for signals"),
        ("rule", "gradcam", "feature map"),
    ]:
        before = getattr(explorer, name)
        with pytest.raises(traitlets.TraitError, match=words):
            setattr(explorer, name, value)
        assert getattr(explorer, name) == before, name
    assert explorer.refresh() is shown or all(
        np.array_equal(explorer.panels[k], shown[k]) for k in shown
    )


def test_the_constructor_refuses_bad_state_and_unknown_arguments():
    with pytest.raises(ValueError, match="item=9"):
        Explorer(model=built(PulseNet(2)), inputs=torch.randn(2, 2, 30), item=9)
    with pytest.raises(TypeError, match="unexpected arguments: imputs"):
        Explorer(model=built(PulseNet(2)), imputs=torch.randn(2, 2, 30))
    with pytest.raises(ValueError, match="not both"):
        Explorer(model=built(PulseNet(2)), inputs=torch.randn(2, 2, 30), image="chelsea")


def test_clicking_a_signal_mask_explains_that_unit():
    model, signals = built(PulseNet(2)), torch.randn(2, 2, 30)
    explorer = Explorer(model=model, inputs=signals, panel_size=SIZE, site=1)
    explorer.refresh()
    mask_row = explorer.rows[1]
    # All channels: rows are channels; row 40 of 64 is channel 40 * 16 // 64 = 10.
    page.click(mask_row, mask_row.offset("forward") + 63, 40)
    assert (explorer.target_kind, explorer.channel, explorer.unit) == ("unit", 10, (29,))
    target = explorer.view().target
    assert target == Neuron(explorer.site_names[1], 10, position=(29,))
    direct = _direct(model, signals[:1], target)
    assert torch.equal(explorer.explanation.attribution, direct.attribution)


def test_a_segmentation_click_on_the_output_panel_explains_that_region():
    model, images = built(TinySegmenter()), torch.randn(2, 3, 16, 16)
    explorer = Explorer(model=model, inputs=images, panel_size=SIZE)
    first = explorer.rows[0]
    assert first.names == ("input", "output", "attribution", "activation")
    assert explorer.explanation.target.cls == explorer.target, "a class over all positions"
    before = explorer.refresh()["attribution"]
    page.click(first, first.offset("output") + 10, 50)
    region = explorer.region
    labels = explorer.session.predicted_labels()
    assert explorer.target_kind == "region" and region.mask[50 * 16 // SIZE, 10 * 16 // SIZE]
    assert (labels[region.mask] == region.cls).all()
    direct = _direct(model, images[:1], Region(region.cls, region.mask))
    assert torch.equal(explorer.explanation.attribution, direct.attribution)
    assert not np.array_equal(explorer.refresh()["attribution"], before)
    position = (50 * 16 // SIZE, 10 * 16 // SIZE)
    hovered = explorer.readout(50, 10)
    assert hovered["predicted"] == explorer.classes[labels[position]]
    with pytest.raises(traitlets.TraitError, match=r"shape \(16, 16\)"):
        explorer.region = Region(region.cls, np.ones((4, 4), bool))
    assert explorer.region is region


def test_a_volume_is_sliced_with_the_slider_and_a_bad_slice_is_refused():
    model, volumes = built(VolumeNet()), torch.randn(2, 1, 8, 10, 12)
    explorer = Explorer(model=model, inputs=volumes, panel_size=SIZE)
    assert explorer.controls.slice.layout.display == "" and explorer.controls.slice.max == 7
    before = explorer.refresh()["input"]
    explorer.controls.slice.value = 6
    assert explorer.slice == 6 and not np.array_equal(explorer.refresh()["input"], before)
    with pytest.raises(traitlets.TraitError, match="out of range"):
        explorer.slice = 8
    assert explorer.slice == 6
    explorer.controls.axis.value = 2
    assert explorer.controls.slice.max == 11
    direct = _direct(model, volumes[:1], explorer.target)
    assert torch.equal(explorer.explanation.attribution, direct.attribution)


def test_a_table_with_feature_names():
    model, rows = built(TableNet()), torch.randn(4, 6)
    names = ["age", "height", "weight", "pulse", "sugar", "sleep"]
    explorer = Explorer(model=model, inputs=rows, feature_names=names, panel_size=96)
    assert explorer.readout(0, 30)["where"] == "age (#0)"
    assert [v for _, v in explorer.controls.display.options] == [
        "gradient",
        "saliency",
        "positive",
        "negative",
    ]
    direct = _direct(model, rows[:1], explorer.target)
    assert torch.equal(explorer.explanation.attribution, direct.attribution)
    # The figure writes the feature names in its own font, beside both bar charts.
    figure = explorer.figure()
    written = [text.get_text() for axis in figure.axes for text in axis.texts]
    assert all(written.count(name) == 2 for name in names), written


def test_a_linear_sites_units_are_a_ranked_row_of_labelled_cells_and_a_click_picks_one():
    explorer = Explorer(model=built(TableNet()), inputs=torch.randn(4, 6), panel_size=SIZE)
    grid = explorer.refresh()["grid"]
    session = explorer.session
    ranked = [c for c, _ in session.channel_ranking(session.result(explorer.target, "guided"), 0)]
    product = session.site_masks(session.result(explorer.target, "guided"), 0)["product"]
    # Cells 26 pixels square, one apart, most passing first; white where the unit passes.
    for k, unit in enumerate(ranked[:4]):
        centre = grid[13, k * 27 + 13, :3]
        assert (centre == (255 if product[unit] else 0)).all(), (k, unit)
        # Under each cell its unit's number, in black.
        assert (grid[26:, k * 27 : k * 27 + 26, :3] < 100).any(), k
    assert grid.shape[0] < 60, "one row of cells with their labels, not a lattice of tiles"
    page.event(explorer.board.grid.canvas, "down", x=2 * 27 + 13, y=13)
    assert explorer.channel == ranked[2]


def test_two_inputs_and_a_dict_output_with_a_menu_for_the_input_shown():
    model = built(PhotoAndRecord())
    photo, record = torch.randn(2, 3, 8, 8), torch.randn(2, 5)
    explorer = Explorer(model=model, inputs=(photo, record), forward_args=(2.0,), panel_size=SIZE)
    assert explorer.controls.input_index.layout.display == ""
    image_map = explorer.refresh()["attribution"]
    explorer.controls.input_index.value = 1
    assert explorer.input_index == 1
    assert not np.array_equal(explorer.refresh()["attribution"], image_map)
    direct = _direct(model, (photo[:1], record[:1]), explorer.target, forward_args=(2.0,))
    shown = explorer.explanation.attribution
    assert all(torch.equal(a, b) for a, b in zip(shown, direct.attribution, strict=True))


def test_a_detector_lists_its_boxes_and_a_click_inside_one_explains_it():
    from tests.kinds import detector, smallest_box

    model = detector()
    torch.manual_seed(1)
    image = torch.rand(1, 3, 96, 96)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explorer = Explorer(model=model, inputs=image, score_threshold=0.0, panel_size=96)
    assert explorer.target_kind == "detection"
    assert explorer.controls.detection.layout.display == ""
    assert explorer.message == "", "the lower threshold's detections are offered and shown"
    assert explorer.controls.detection.value == explorer.detection
    found = explorer.session.detections(0.0)
    smallest = smallest_box(found)
    x0, y0, x1, y1 = smallest.box
    page.click(explorer.rows[0], (x0 + x1) / 2, (y0 + y1) / 2)
    assert explorer.detection == smallest.index
    direct = _direct(model, image, DetectionScore(smallest.index))
    assert torch.equal(explorer.explanation.attribution, direct.attribution)
    with pytest.raises(traitlets.TraitError, match="no detection"):
        explorer.detection = 10**6
    assert explorer.detection == smallest.index
    explorer.score_threshold = 1.0
    assert explorer.detection is None and "no detection scores at least 1" in explorer.message
    # A click on the boxes last drawn picks none: none scores enough now.
    page.click(explorer.rows[0], (x0 + x1) / 2, (y0 + y1) / 2)
    assert explorer.detection is None
    assert "there are no detections above the threshold" in explorer.message


def test_every_control_shows_its_traits_value_after_the_choices_change():
    explorer = Explorer(model=built(PulseNet(2)), inputs=torch.randn(3, 2, 30), panel_size=SIZE)
    c = explorer.controls
    shown = {
        "rule": c.rule.value,
        "display": c.display.value,
        "target_kind": c.target_kind.value,
        "item": c.item.value,
        "site": c.site_slider.value,
    }
    assert shown == {
        name: getattr(explorer, name) for name in ("rule", "display", "target_kind", "item", "site")
    }
    assert explorer.rule == "guided" and c.rule.value == "guided"


def test_a_channel_chosen_stays_in_its_menu_when_a_new_item_is_set_from_code():
    # The new item's pass is not made when its menus are offered: the channel chosen
    # is still listed, and the ranked list replaces it once the item is drawn.
    explorer = Explorer(model=built(VolumeNet()), inputs=torch.randn(2, 1, 8, 10, 12), site=1)
    explorer.channel = 5
    explorer.item = 1
    assert explorer.channel == 5 and explorer.controls.channel.value == 5
    explorer.refresh()
    labels = [label for label, _ in explorer.controls.channel.options]
    assert explorer.controls.channel.value == 5 and any(s.endswith("% pass") for s in labels)


def test_the_label_map_carries_a_key_of_its_classes():
    model, images = built(TinySegmenter()), torch.randn(2, 3, 16, 16)
    explorer = Explorer(model=model, inputs=images, classes=["sky", "road", "car"], panel_size=SIZE)
    explorer.refresh()
    labels = explorer.session.predicted_labels()
    present = [explorer.classes[k] for k in np.unique(labels)]
    key = explorer.rows[0].keys["output"]
    # Each class on the map is named beside a swatch of the colour the map gives it.
    picture = explorer.refresh()["output"]
    for k in np.unique(labels):
        row, column = np.argwhere(labels == k)[0]
        colour = picture[row * SIZE // 16 + SIZE // 32, column * SIZE // 16 + SIZE // 32, :3]
        assert f"background:rgb{tuple(int(v) for v in colour)}" in key
        assert explorer.classes[k] in key
    figure = explorer.figure()
    texts = {text.get_text() for axis in figure.axes for text in axis.texts}
    assert set(present) <= texts
