"""The Explorer's constructor, its answers to bad input typed into its controls, and the
text it shows: captions, read-out, status, and controls in step with the traits."""

import asyncio
import html
import io
import math

import numpy as np
import pytest
import torch
import traitlets
from PIL import Image

from gbp_widgets import Explorer, GuidedBackprop, Neuron, sample_image
from gbp_widgets.explore import (
    COMPARED_RULES,  # noqa: E402
    ExplorerSession,
    unknown_class_message,
)
from gbp_widgets.explore.names import MASK_PANELS
from gbp_widgets.explore.words import captions, row_caption, site_words
from tests import page
from tests.zoo import toy_model

# The comparison row while Guided Grad-CAM is chosen: the heat map beside the maps.
WITH_CAM = (*COMPARED_RULES, "cam")


@pytest.fixture
def explorer():
    return Explorer(panel_size=64)


def _png_bytes(name: str) -> bytes:
    buffer = io.BytesIO()
    sample_image(name).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["sample name", "path", "bytes", "PIL", "tensor"])
def test_the_image_argument_is_honoured_in_every_form(kind, tmp_path):
    coffee = sample_image("coffee")
    path = tmp_path / "photo.png"
    coffee.save(path)
    given = {
        "sample name": "coffee",
        "path": str(path),
        "bytes": _png_bytes("coffee"),
        "PIL": coffee,
        "tensor": None,
    }[kind]
    if kind == "tensor":
        given = Explorer(image="coffee", panel_size=64).session.inputs
    explorer = Explorer(image=given, panel_size=64)
    assert explorer.image == ("coffee" if kind == "sample name" else "custom")
    expected = Explorer(image="coffee", panel_size=64).refresh()["input"]
    np.testing.assert_allclose(explorer.refresh()["input"], expected, atol=2)
    assert explorer.session.class_name(explorer.target) == "espresso"


def test_state_given_to_the_constructor_is_kept():
    explorer = Explorer(
        image="chelsea", target=281, rule="deconvnet", site=5, display="saliency", panel_size=64
    )
    assert (explorer.target, explorer.rule, explorer.site, explorer.display) == (
        281,
        "deconvnet",
        5,
        "saliency",
    )
    assert explorer.controls.class_index.value == 281
    assert explorer.controls.class_name.value == explorer.session.class_name(281)
    expected = GuidedBackprop(explorer.session.engine.model).explain(
        explorer.session.inputs, target=281, rule="deconvnet"
    )
    assert explorer.refresh() is explorer.panels
    result = explorer.session.result(281, "deconvnet")
    np.testing.assert_allclose(result.attribution, expected.attribution[0].numpy(), atol=1e-6)
    assert torch.equal(explorer.explanation.attribution, expected.attribution)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"target": 1000}, "target=1000: class 1000 is out of range"),
        ({"rule": "lrp"}, "unknown rule"),
        ({"site": 99}, "site 99 is out of range"),
        ({"display": "heat"}, "unknown display"),
        ({"percentile": 60.0}, "between 90 and 100"),
    ],
)
def test_bad_constructor_values_raise_and_say_which(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Explorer(panel_size=64, **kwargs)


def test_trait_bounds_are_the_controls_bounds(explorer):
    slider = explorer.controls.percentile
    with pytest.raises(traitlets.TraitError, match="between"):
        explorer.percentile = slider.min - 0.5
    assert explorer.percentile == 99.0
    explorer.percentile = slider.min
    assert explorer.percentile == slider.min == slider.value


def test_a_class_number_out_of_range_typed_in_the_box_is_refused_not_clamped(explorer):
    before = explorer.target
    explorer.controls.class_index.value = 1500
    assert explorer.target == before
    assert "class 1500 is out of range" in explorer.message
    assert explorer.controls.class_index.value == before, "the box shows the class explained"
    explorer.controls.class_index.value = 504
    assert explorer.target == 504 and explorer.message == ""


def test_an_unknown_class_name_gets_close_names(explorer):
    explorer.controls.class_name.value = "tiger kat"
    assert "no class called 'tiger kat'" in explorer.message
    assert "'tiger cat'" in explorer.message
    assert explorer.controls.class_name.value == explorer.session.class_name(explorer.target)
    explorer.controls.class_name.value = "espresso"
    assert explorer.session.class_name(explorer.target) == "espresso"
    assert explorer.message == ""


def test_the_name_box_follows_the_class_explained(explorer):
    explorer.controls.class_name.value = "tiger cat"
    explorer.target = 967
    assert explorer.controls.class_name.value == explorer.session.class_name(967)
    explorer.target_kind = "channel"
    assert explorer.controls.class_name.value == ""


def test_a_channel_target_is_captioned_in_words(explorer):
    explorer.target_kind = "channel"
    explorer.site = 20
    explorer.refresh()
    channel = explorer.view().target.channel
    caption = explorer.rows[0].captions["attribution"]
    site = explorer.site_names[20]
    assert f"channel {channel} at {site}" in caption
    assert "Neuron(" not in caption


def test_the_site_is_named_in_full_once_over_each_row_and_the_panels_say_the_rest(explorer):
    explorer.site, explorer.channel = 20, 3
    explorer.refresh()
    site = explorer.site_names[20]
    maps, masks = explorer.rows
    assert maps.caption == f"output panel: ReLU site {site} (relu6), channel 3"
    assert masks.caption == f"masks at ReLU site {site} (relu6), channel 3"
    for strip in explorer.rows:
        assert all(site not in words for words in strip.captions.values()), strip.captions
    # What the browser is sent: the row's caption over a caption per panel, each in full.
    for strip in explorer.rows:
        header = html.unescape(strip.canvas.header)
        assert strip.caption in header
        assert all(f"title='{words}'" in header for words in strip.captions.values())


def test_captions_in_words():
    names = {3: "tabby"}.get
    view = type("V", (), {"rule": "guided", "channel": -1, "target": 3})
    assert captions(view, names)["attribution"] == "Guided: tabby"
    view.target = Neuron("layer1.0.relu#2", 7, y=3, x=4)
    assert (
        captions(view, names)["attribution"]
        == "Guided: unit (y=3, x=4) of channel 7 at layer1.0.relu#2"
    )


def test_a_relu6_site_says_what_it_is_and_its_forward_mask(explorer):
    """EfficientNet's ReLU6 modules sit in attributes named ``_swish``: the captions say
    relu6, and give its forward mask 1[0<x<6], not a plain ReLU's 1[x>0]."""
    explorer.refresh()
    explorer.site, explorer.channel = 0, -1
    explorer.refresh()
    assert explorer.rows[1].captions["forward"] == "forward 1[0<x<6]"
    assert explorer.rows[1].caption == "masks at ReLU site _swish#1 (relu6), all channels"
    assert explorer.rows[0].caption == "output panel: ReLU site _swish#1 (relu6), all channels"


def test_a_plain_relu_site_keeps_its_name_and_mask():
    view = type("V", (), {"rule": "guided", "channel": -1, "target": 3})
    assert captions(view, {3: "tabby"}.get)["forward"] == "forward 1[x>0]"
    assert row_caption(MASK_PANELS, view, site_words("layer1.0.relu#2", ("relu", None))) == (
        "masks at ReLU site layer1.0.relu#2, all channels"
    )
    hardtanh = captions(view, {3: "tabby"}.get, rectifier=("hardtanh", 2.5))
    assert hardtanh["forward"] == "forward 1[0<x<2.5]"
    assert site_words("act#1", ("hardtanh", 2.5)) == "act#1 (hardtanh)"


def test_unknown_class_message_offers_names_containing_the_text():
    message = unknown_class_message(
        "retriever", ["golden retriever", "tabby", "Labrador retriever"]
    )
    assert "'golden retriever'" in message and "'Labrador retriever'" in message
    assert "did you mean" not in unknown_class_message("zzzz", ["tabby"])


def test_the_status_is_cleared_by_the_next_action(explorer, tmp_path):
    explorer.save_png(tmp_path / "x.png")
    assert "saved" in explorer.status.value
    explorer.site = 3
    assert "saved" not in explorer.status.value
    page.choose(explorer.controls.class_index, 5000)
    assert "out of range" in explorer.status.value
    explorer.rule = "gradient"
    assert explorer.status.value == "" and explorer.message == ""


def test_the_readout_is_cleared_when_the_image_changes(explorer):
    page.hover(explorer.rows[0], 10, 10)
    assert "pixel (y=" in explorer.board.readout_view.value
    explorer.image = "rocket"
    assert explorer.board.readout_view.value == ""


def test_a_failure_while_drawing_is_reported_and_the_widget_keeps_working(explorer, monkeypatch):
    before = explorer.refresh()["attribution"].copy()

    def broken(*args, **kwargs):
        raise RuntimeError("renderer broke")

    monkeypatch.setattr(explorer.rows[0], "draw", broken)
    explorer.display = "saliency"
    explorer.refresh()
    assert "renderer broke" in explorer.message
    np.testing.assert_array_equal(explorer.panels["attribution"], before)
    monkeypatch.undo()
    explorer.display = "negative"
    explorer.refresh()
    assert explorer.message == ""


def test_channel_ranking_waits_for_the_coalesced_redraw(explorer, monkeypatch):
    calls = []
    original = ExplorerSession.channel_ranking
    monkeypatch.setattr(
        ExplorerSession,
        "channel_ranking",
        lambda self, *a: calls.append(1) or original(self, *a),
    )

    async def in_a_kernel() -> int:
        # With an event loop running, as in a kernel, a redraw waits for the loop's turn.
        explorer.site = 1
        assert calls == []
        explorer.refresh()
        one_change = len(calls)
        calls.clear()
        for site in range(2, 9):
            explorer.site = site
        assert calls == [], "no ranking (a backward pass) outside the coalesced redraw"
        explorer.refresh()
        return one_change

    one_change = asyncio.run(in_a_kernel())
    assert len(calls) == one_change


def test_a_user_model_and_image_given_together():
    picture = Image.fromarray(np.full((40, 40, 3), 120, np.uint8))
    explorer = Explorer(model=toy_model("reused_relu"), image=picture, panel_size=32)
    assert explorer.model_name == "custom" and explorer.image == "custom"
    assert explorer.refresh()["input"].shape == (32, 32, 4)
    with pytest.raises(ValueError, match="target=10"):
        Explorer(model=toy_model("reused_relu"), image=torch.randn(3, 32, 32), target=10)


def test_the_activation_panel_is_the_sites_output(explorer):
    explorer.site, explorer.channel = 4, 3
    picture = explorer.refresh()["activation"]
    output = explorer.session.site_output(4)[3]
    assert output.min() >= 0
    # Brightest where the unit's output peaks, black where it is zero.
    peak = np.unravel_index(output.argmax(), output.shape)
    scale = 64 // output.shape[0] if 64 % output.shape[0] == 0 else None
    if scale:
        y, x = peak[0] * scale, peak[1] * scale
        zero = np.argwhere(output == 0)
        assert picture[y, x, :3].sum() > 600
        if len(zero):
            zy, zx = zero[0] * scale
            assert picture[zy, zx, :3].sum() < 30


def test_clicking_a_mask_pixel_explains_that_unit(explorer):
    explorer.site = 10
    explorer.refresh()
    output = explorer.session.site_output(10)
    _, height, width = output.shape
    masks = explorer.rows[1]
    column, row = 72 + 40, 30  # the backward panel (64-pixel panels, 8-pixel gaps)
    explorer.click(masks, column, row)
    unit = (row * height // 64, 40 * width // 64)
    assert explorer.target_kind == "unit" and explorer.unit == unit
    assert explorer.channel == int(output[:, unit[0], unit[1]].argmax())
    target = explorer.view().target
    assert (target.site, target.channel, target.y, target.x) == (
        explorer.site_names[10],
        explorer.channel,
        *unit,
    )
    explanation = GuidedBackprop(explorer.session.engine.model).explain(
        explorer.session.inputs, target=target
    )
    result = explorer.session.result(target, "guided")
    np.testing.assert_allclose(result.attribution, explanation.attribution[0].numpy(), atol=1e-6)
    assert "unit (y=" in explorer.rows[0].captions["attribution"]
    explorer.refresh()
    explorer.click(explorer.rows[0], 10, 10)  # the input panel: not a unit
    assert explorer.unit == unit


def ranked_at_site_10(explorer) -> list[int]:
    """Site 10's channels, most passing first, for the class explained."""
    explorer.site = 10
    explorer.refresh()
    result = explorer.session.result(explorer.target, "guided")
    return [c for c, _ in explorer.session.channel_ranking(result, 10)]


def test_clicking_a_grid_tile_shows_that_channel(explorer):
    ranked = ranked_at_site_10(explorer)
    grid = explorer.board.grid.canvas
    page.event(grid, "down", x=1, y=1)
    assert explorer.channel == ranked[0]
    # At most 64 tiles in a near-square grid, of equal width, one pixel apart.
    columns = math.ceil(math.sqrt(min(len(ranked), 64)))
    tile = (grid.width - (columns - 1)) // columns
    page.event(grid, "down", x=tile + 2, y=1)  # the second tile of the first row
    assert explorer.channel == ranked[1]


def test_the_grid_box_sets_how_many_channel_tiles_the_grid_shows(explorer):
    ranked = ranked_at_site_10(explorer)
    grid = explorer.board.grid.canvas
    page.choose(explorer.controls.grid_size, 9)
    explorer.refresh()
    assert explorer.grid_size == 9
    # Nine tiles: three to a row; the last is the ninth channel ranked, the row after empty.
    tile = (grid.width - 2) // 3
    page.event(grid, "down", x=2 * (tile + 1) + 2, y=2 * (tile + 1) + 2)
    assert explorer.channel == ranked[8]
    explorer.channel = -1
    page.event(grid, "down", x=1, y=3 * (tile + 1) + 2)
    assert explorer.channel == -1
    page.choose(explorer.controls.grid_size, 0)
    assert "a grid shows 1 channel or more" in explorer.message
    assert explorer.grid_size == 9 == explorer.controls.grid_size.value
    explorer.grid_size = 64
    explorer.refresh()


def test_arrow_keys_step_sites_and_channels(explorer):
    explorer.site = 3
    masks = explorer.rows[1]
    page.press(masks, "ArrowDown")
    assert explorer.site == 4
    page.press(masks, "ArrowUp")
    page.press(masks, "ArrowUp")
    assert explorer.site == 2
    explorer.refresh()
    values = [v for _, v in explorer.controls.channel.options]
    page.press(masks, "ArrowRight")
    assert explorer.channel == values[1]
    page.press(masks, "ArrowLeft")
    assert explorer.channel == values[0]
    page.press(masks, "a")
    assert (explorer.site, explorer.channel) == (2, values[0])


def test_compare_shows_the_three_rules_side_by_side(explorer):
    from gbp_widgets import render

    explorer.display = "saliency"
    explorer.compare = True
    explorer.refresh()
    assert set(explorer.comparison) == {"gradient", "deconvnet", "guided"}
    engine = GuidedBackprop(explorer.session.engine.model)
    for rule in ("gradient", "deconvnet", "guided"):
        attribution = engine.explain(
            explorer.session.inputs, target=explorer.target, rule=rule
        ).attribution
        expected = render.fit(render.display(attribution.numpy(), "saliency"), 64)
        np.testing.assert_array_equal(explorer.comparison[rule], expected)
    assert explorer.board.comparisons[COMPARED_RULES].widget.layout.display == ""
    explorer.rule = "gradcam"
    explorer.refresh()
    assert set(explorer.comparison) == {"gradient", "deconvnet", "guided", "cam"}
    assert explorer.board.comparisons[WITH_CAM].widget.layout.display == ""
    assert explorer.board.comparisons[COMPARED_RULES].widget.layout.display == "none"
    four = explorer.board.comparisons[WITH_CAM]
    assert 4 * four.size + 3 * 8 <= 3 * 64 + 2 * 8, "the four panels fit the rows' width"
    explorer.compare = False
    explorer.refresh()
    assert explorer.comparison == {}
    assert all(s.widget.layout.display == "none" for s in explorer.board.comparisons.values())


def test_a_gradcam_layer_without_a_feature_map_is_refused_and_the_old_one_kept(explorer):
    explorer.rule = "gradcam"
    explorer.layer = "_conv_head"
    before = explorer.refresh()["attribution"].copy()
    # A ModuleList: never called, so it has no output to weight.
    page.choose(explorer.controls.layer, "_blocks")
    assert explorer.layer == "_conv_head"
    assert explorer.controls.layer.value == "_conv_head"
    assert "did not return a (N, C, H, W) tensor" in explorer.message
    np.testing.assert_array_equal(explorer.refresh()["attribution"], before)


def test_a_refused_explorer_leaves_nothing_open_behind_it():
    import gc

    def alive() -> int:
        gc.collect()
        return sum(type(o) is Explorer for o in gc.get_objects())

    before = alive()
    for bad in ({"target": 1000}, {"model": "no-such-model"}):
        with pytest.raises((ValueError, KeyError)):
            Explorer(**bad)
    # Nothing holds a refused Explorer: no widget of it stays open in ipywidgets' registry.
    assert alive() == before
