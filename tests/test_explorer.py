"""The Explorer driven from code: every control, checked against the engine's own output."""

import asyncio
import datetime
import html
import io
import re

import numpy as np
import pytest
import torch
import traitlets
from PIL import Image
from torch import nn

from gbp_widgets import Explorer, GuidedBackprop, render
from gbp_widgets.engine.recording import Recording
from gbp_widgets.explore import COMPARED_RULES
from gbp_widgets.widgets.latest import LatestOnly
from tests import page
from tests.zoo import NoReLU, toy_model

# The comparison row while Guided Grad-CAM is chosen: the heat map beside the maps.
WITH_CAM = (*COMPARED_RULES, "cam")


@pytest.fixture
def explorer():
    """A fresh explorer for every test: no test depends on another's leftovers."""
    return Explorer()


def engine_explanation(explorer, rule="guided", target=None):
    session = explorer.session
    return GuidedBackprop(session.engine.model).explain(
        session.inputs, target=explorer.target if target is None else target, rule=rule
    )


def test_opens_offline_on_the_default_model(explorer):
    panels = explorer.refresh()
    assert set(panels) == {
        "input",
        "attribution",
        "activation",
        "forward",
        "backward",
        "product",
        "grid",
    }
    for name in ("input", "attribution", "activation", "forward", "backward", "product"):
        assert panels[name].shape == (224, 224, 4) and panels[name].dtype == np.uint8
    assert explorer.session.class_name(explorer.target) in ("tiger cat", "Egyptian cat", "tabby")
    assert explorer.controls.top.value == explorer.target


@pytest.mark.parametrize("channel", [-1, 5])
def test_mask_panels_are_the_engines_masks(explorer, channel):
    explorer.rule, explorer.display = "guided", "gradient"
    explorer.site = 6
    explorer.channel = channel
    panels = explorer.refresh()
    site = engine_explanation(explorer).sites[6]
    shown = None if channel == -1 else channel
    for name, mask in [
        ("forward", site.forward_mask),
        ("backward", site.backward_mask),
        ("product", site.forward_mask & site.backward_mask),
    ]:
        expected = render.fit(render.mask_picture(mask[0], shown), 224)
        assert np.array_equal(panels[name], expected), name


@pytest.mark.parametrize("rule", ["gradient", "deconvnet", "guided"])
@pytest.mark.parametrize("display", ["gradient", "saliency", "negative", "overlay"])
def test_attribution_panel_is_the_engines_map(explorer, rule, display):
    explorer.rule, explorer.display, explorer.percentile = rule, display, 99.0
    panels = explorer.refresh()
    attribution = engine_explanation(explorer, rule).attribution
    expected = render.display(attribution, display, explorer.session.photo(), 99.0)
    assert np.array_equal(panels["attribution"], expected)


def test_gradcam_rule_shows_the_product(explorer):
    from gbp_widgets import guided_gradcam

    explorer.rule, explorer.display, explorer.percentile = "gradcam", "gradient", 99.0
    panels = explorer.refresh()
    session = explorer.session
    result = guided_gradcam(session.engine.model, session.inputs, target=explorer.target)
    assert np.array_equal(panels["attribution"], render.gradient_image(result.product))


def count_passes(monkeypatch, explorer):
    counts = {"forward": 0, "backward": 0}
    original = Recording.backprop

    def counting_backprop(self, *args, **kwargs):
        counts["backward"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Recording, "backprop", counting_backprop)
    handle = explorer.session.engine.model.register_forward_pre_hook(
        lambda *args: counts.__setitem__("forward", counts["forward"] + 1)
    )
    return counts, handle


def test_site_channel_and_display_switches_need_no_pass(explorer, monkeypatch):
    explorer.rule, explorer.site, explorer.channel = "guided", 3, -1
    explorer.refresh()
    counts, handle = count_passes(monkeypatch, explorer)
    try:
        before = dict(explorer.refresh())
        explorer.site = 9
        after_site = dict(explorer.refresh())
        explorer.channel = 2
        explorer.display = "saliency"
        explorer.percentile = 97.0
        explorer.refresh()
    finally:
        handle.remove()
    assert counts == {"forward": 0, "backward": 0}
    assert after_site["attribution"] is before["attribution"]
    assert not np.array_equal(after_site["forward"], before["forward"])


def test_target_and_rule_switches_are_one_backward_pass_each(explorer, monkeypatch):
    explorer.refresh()
    counts, handle = count_passes(monkeypatch, explorer)
    try:
        explorer.target = 7
        explorer.refresh()
        assert counts == {"forward": 0, "backward": 1}
        explorer.rule = "deconvnet" if explorer.rule != "deconvnet" else "gradient"
        explorer.refresh()
    finally:
        handle.remove()
    assert counts == {"forward": 0, "backward": 2}


def test_channel_targets_backprop_from_the_site(explorer):
    explorer.rule, explorer.site, explorer.channel = "deconvnet", 4, 2
    explorer.target_kind = "channel"
    panels = explorer.refresh()
    name = explorer.session.site_names[4]
    from gbp_widgets import Neuron

    attribution = engine_explanation(explorer, "deconvnet", Neuron(name, 2)).attribution
    expected = render.display(attribution, explorer.display, percentile=explorer.percentile)
    assert np.array_equal(panels["attribution"], expected)
    explorer.target_kind = "class"


def test_channels_are_offered_most_passing_first(explorer):
    explorer.rule = "gradient"
    explorer.rule = "guided"
    explorer.site = 5
    explorer.refresh()
    options = [value for _, value in explorer.controls.channel.options]
    assert options[0] == -1
    product = engine_explanation(explorer).sites[5].product[0]
    shares = product.flatten(1).float().mean(1)
    assert shares[options[1]] == shares.max()
    assert list(shares[options[1:]]) == sorted(shares.tolist(), reverse=True)


def test_hover_readout_matches_the_masks(explorer):
    explorer.rule, explorer.site, explorer.channel = "guided", 2, 0
    for row, column in [(10, 10), (100, 150), (223, 223)]:
        values = explorer.readout(row, column)
        assert values["forward"] == int(values["pre_activation"] > 0)
        assert values["backward"] == int(values["gradient"] > 0)
        assert values["product"] == values["forward"] * values["backward"]
        assert values["output"] == max(values["pre_activation"], 0.0)
    masks = explorer.rows[1]
    page.hover(masks, 3 * 232 + 40, 30)  # a point past the last panel: ignored
    assert explorer.board.readout_view.value == ""
    page.hover(masks, 232 + 40, 30)
    shown = explorer.board.readout_view.value
    for field in ("x = ", "output = ", "g = ", "forward ", "backward ", "product "):
        assert field in shown, field


def test_bad_values_from_code_raise_and_keep_the_old_value(explorer):
    target, site, channel = explorer.target, explorer.site, explorer.channel
    for name, value, words in [
        ("target", 1000, "out of range"),
        ("site", 10_000, "site 10000"),
        ("channel", 99_999, "channel 99999"),
        ("rule", "lrp", "unknown rule"),
    ]:
        with pytest.raises(traitlets.TraitError, match=words):
            setattr(explorer, name, value)
    assert (explorer.target, explorer.site, explorer.channel) == (target, site, channel)
    assert explorer.rule != "lrp"
    explorer.refresh()


def test_a_bad_class_typed_in_the_box_is_answered_and_the_box_put_back(explorer):
    target = explorer.target
    page.choose(explorer.controls.class_index, 1000)
    assert "class 1000 is out of range" in explorer.message
    assert explorer.target == target and explorer.controls.class_index.value == target


def upload(explorer, data: bytes) -> None:
    explorer.controls.upload.value = (
        {
            "name": "f",
            "type": "image/png",
            "size": len(data),
            "content": memoryview(data),
            "last_modified": datetime.datetime.now(),
        },
    )


def png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "array, grey",
    [
        (np.full((60, 80), 200, np.uint8), 200),  # grayscale
        (np.full((60, 80, 4), 90, np.uint8), 197),  # RGBA, alpha 90 over white
        (np.full((60, 80), 40000, np.uint16), 156),  # 16-bit, scaled by 65535
    ],
)
def test_uploads_of_every_kind(explorer, array, grey):
    upload(explorer, png(array))
    panels = explorer.refresh()
    assert explorer.image == "custom"
    assert panels["input"][30, 30].tolist() == [grey, grey, grey, 255]
    explorer.image = "chelsea"


def test_bad_uploads_keep_the_previous_picture(explorer):
    explorer.image = "coffee"
    before = explorer.refresh()["input"].copy()
    upload(explorer, b"this is not a picture")
    assert "could not be shown" in explorer.message
    upload(explorer, png(np.zeros((10_000, 10_000), np.uint8)))
    assert "too large" in explorer.message
    assert np.array_equal(explorer.refresh()["input"], before)
    assert explorer.image == "coffee"


def test_a_model_that_cannot_load_keeps_the_current_one(explorer, monkeypatch, tmp_path):
    import urllib.error

    import torch.hub

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    model = explorer.session.engine.model
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    page.choose(explorer.controls.model, "resnet18")
    assert explorer.model_name == "efficientnet_lite0"
    assert explorer.controls.model.value == "efficientnet_lite0"
    assert "ModelUnavailableError" in explorer.message and "efficientnet_lite0" in explorer.message
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights.items())
    explorer.site = 1
    assert explorer.refresh()["forward"].shape == (224, 224, 4)


class FailsLater(torch.nn.Module):
    """Works on the first image, raises on the next one."""

    def __init__(self):
        super().__init__()
        self.inner = toy_model("module_relus")
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("model exploded")
        return self.inner(x)


def test_a_model_that_raises_in_forward_leaves_the_explorer_usable():
    model = FailsLater()
    explorer = Explorer(model=model, image=torch.randn(3, 32, 32), panel_size=64)
    before = explorer.refresh()["input"].copy()
    page.choose(explorer.controls.image, "rocket")
    assert "model exploded" in explorer.message and explorer.image == "custom"
    with pytest.raises(traitlets.TraitError, match="model exploded"):
        explorer.image = "rocket"
    assert explorer.image == "custom"
    assert np.array_equal(explorer.refresh()["input"], before)
    explorer.site = 1
    assert explorer.refresh()["forward"].shape == (64, 64, 4)


def test_a_model_that_cannot_be_explained_raises_at_construction():
    with pytest.raises(ValueError, match="could not be explained: ValueError: always fails"):
        Explorer(model=_AlwaysFails(), panel_size=64)


class _AlwaysFails(torch.nn.Module):
    def forward(self, x):
        raise ValueError("always fails")


def test_a_model_without_relu_is_shown_with_a_warning():
    explorer = Explorer(
        model=NoReLU(),
        image=torch.randn(3, 32, 32),
        panel_size=32,
        classes=[f"c{i}" for i in range(10)],
    )
    panels = explorer.refresh()
    assert "no ReLU-family calls" in explorer.status.value
    assert (panels["product"][..., 0] == 128).all()
    assert explorer.controls.top.options[0][0].startswith("c")


def test_your_own_model_tensor_and_class_names():
    names = [f"digit {i}" for i in range(10)]
    explorer = Explorer(
        model=toy_model("reused_relu"), image=torch.randn(3, 32, 32), classes=names, panel_size=96
    )
    assert explorer.model_name == "custom" and explorer.image == "custom"
    assert explorer.session.site_names == ["relu#1", "relu#2", "relu#3"]
    assert explorer.controls.top.options[0][0].startswith("digit")
    assert explorer.refresh()["product"].shape == (96, 96, 4)


def _keys(figure) -> list[list[str]]:
    """The words of each colour key in ``figure`` (the axes with words under a ramp)."""
    return [
        [label.get_text() for label in axis.get_xticklabels()]
        for axis in figure.axes
        if axis.get_xticklabels() and not axis.get_title()
    ]


def test_figure_and_png_export(explorer, tmp_path):
    figure = explorer.figure()
    titles = [axis.get_title() for axis in figure.axes if axis.get_title()]
    # input, map, site output, the three masks, and the channel grid
    assert len(titles) == 7
    assert titles[-1].startswith("product mask, channels ranked")
    keys = _keys(figure)
    assert ["-p99", "0 (each of R, G, B)", "+p99"] in keys  # the signed RGB map
    assert ["0", "peak"] in keys  # the site output's heat map
    assert keys.count(["0", "share of channels on", "1"]) == 3  # the three mask panels
    assert ["off", "on"] in keys  # the grid's masks
    assert "p99: the 99th percentile of |map|" in figure._supxlabel.get_text()
    out = explorer.save_png(tmp_path / "panels.png")
    assert Image.open(out).size[0] > 800


def test_the_figure_holds_the_comparison_and_keys_what_is_shown(explorer):
    explorer.compare = True
    explorer.display = "saliency"
    explorer.percentile = 98.0
    explorer.channel = 3
    figure = explorer.figure()
    titles = [axis.get_title() for axis in figure.axes if axis.get_title()]
    assert {"Gradient: tiger cat", "DeconvNet: tiger cat", "Guided: tiger cat"} <= set(titles)
    keys = _keys(figure)
    assert keys.count(["0", "p98 of |map|"]) == 4  # the map and the three compared maps
    assert keys.count(["off", "on"]) == 4  # one channel's masks, and the grid
    assert "p98: the 98th percentile" in figure._supxlabel.get_text()


def live_keys(strip) -> dict[str, str]:
    """The words under each panel of a row, as the browser shows them (tags stripped)."""
    words = {}
    for name, key in strip.keys.items():
        spans = re.findall(r"<span[^>]*>([^<]*)</span>", key)
        words[name] = " | ".join(html.unescape(word) for word in spans if word)
    return words


def test_the_live_panels_carry_the_figures_colour_keys(explorer):
    explorer.refresh()
    top, masks = (live_keys(strip) for strip in explorer.rows)
    assert top == {
        "input": "",
        "attribution": "-p99 | 0 (each of R, G, B) | +p99",
        "activation": "0 | peak",
    }
    assert set(masks.values()) == {"0 | share of channels on | 1"}
    explorer.channel = 3
    explorer.display = "overlay"
    explorer.compare = True
    explorer.rule = "gradcam"
    explorer.refresh()
    top, masks = (live_keys(strip) for strip in explorer.rows)
    assert top["attribution"] == "0 (photo) | p99 of |map|"
    assert set(masks.values()) == {"off | on"}
    compared = live_keys(explorer.board.comparisons[WITH_CAM])
    assert compared["cam"] == "0 (photo) | p99 of |map|"
    assert compared["guided"] == "0 (photo) | p99 of |map|"


def test_a_grey_input_has_no_rgb_in_its_signed_key():
    grey = torch.rand(1, 1, 32, 32)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))
    model(grey)
    explorer = Explorer(model=model.eval(), inputs=grey, panel_size=64)
    explorer.refresh()
    assert live_keys(explorer.rows[0])["attribution"] == "-p99 | 0 | +p99"


def test_masks_drawn_cell_by_cell_are_keyed_on_and_off():
    # A signal site is drawn one row per channel, a Linear site one cell per unit: no
    # average over channels, so the key is on/off even with all channels shown.
    signal = torch.randn(2, 2, 40)
    model = nn.Sequential(nn.Conv1d(2, 4, 5), nn.ReLU(), nn.Flatten(), nn.LazyLinear(8))
    model = nn.Sequential(*model, nn.ReLU(), nn.Linear(8, 3))
    model(signal)
    explorer = Explorer(model=model.eval(), inputs=signal, panel_size=64)
    for site in (0, 1):
        explorer.site = site
        explorer.refresh()
        assert set(live_keys(explorer.rows[1]).values()) == {"off | on"}, site
    explorer.figure()


def test_bursts_of_requests_run_only_the_newest():
    ran = []

    async def burst():
        latest = LatestOnly(delay=0.01)
        for value in range(5):
            latest.submit(lambda value=value: ran.append(value))
        await asyncio.sleep(0.05)

    asyncio.run(burst())
    assert ran == [4]


def resident_megabytes() -> float:
    """Resident memory, after the C allocator has handed back the free memory it holds
    (a leak is what stays; freed blocks it keeps for reuse are not)."""
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * 4096 / 2**20


# Five hundred redraws: left out of the fast subset.
@pytest.mark.slow
@pytest.mark.skipif(not hasattr(__import__("os"), "sched_getaffinity"), reason="Linux /proc")
def test_five_hundred_control_changes_leave_memory_flat(explorer):
    import gc

    sites = len(explorer.session.site_names)
    rules = ["gradient", "deconvnet", "guided", "gradcam"]
    displays = ["gradient", "saliency", "positive", "negative", "overlay"]

    def change(step: int) -> None:
        kind = step % 5
        if kind == 0:
            explorer.site = (step * 7) % sites
        elif kind == 1:
            explorer.channel = -1 if step % 3 else 1
        elif kind == 2:
            explorer.rule = rules[step % 4]
        elif kind == 3:
            explorer.target = (step * 13) % 1000
        else:
            explorer.display = displays[step % 5]
        explorer.refresh()

    for step in range(100):  # fill every cache first
        change(step)
    gc.collect()
    before = resident_megabytes()
    for step in range(100, 600):
        change(step)
    gc.collect()
    growth = resident_megabytes() - before
    print(f"resident memory growth over 500 changes: {growth:.1f} MiB")
    assert growth < 40


def test_gradcam_layer_choice(explorer):
    from gbp_widgets import guided_gradcam

    assert ("_blocks.10", "_blocks.10") in explorer.controls.layer.options
    explorer.rule, explorer.display = "gradcam", "gradient"
    explorer.layer = "_blocks.10"
    panels = explorer.refresh()
    session = explorer.session
    result = guided_gradcam(
        session.engine.model, session.inputs, target=explorer.target, layer="_blocks.10"
    )
    expected = render.gradient_image(result.product, percentile=explorer.percentile)
    assert np.array_equal(panels["attribution"], expected)
    with pytest.raises(traitlets.TraitError, match="no module called"):
        explorer.layer = "no.such.layer"
    assert explorer.layer == "_blocks.10"
    explorer.layer = "auto"
    explorer.rule = "guided"


def test_sanity_tab_runs_the_cascading_test_on_the_shown_image(explorer):
    from PIL import Image as PILImage

    assert explorer.tabs.titles == ("explore", "sanity")
    result = explorer.run_sanity(max_steps=2)
    assert result.steps == ["original", "_fc", "_bn1"]
    assert explorer.sanity.progress.value == explorer.sanity.progress.max == 2
    assert np.array_equal(explorer.sanity.picture, result.grid())
    curves = PILImage.open(io.BytesIO(explorer.sanity.curves.value))
    assert curves.size[0] > 400
    assert result.value("guided", 1) > result.value("gradient", 1)


def test_a_request_after_a_quiet_spell_runs_without_the_coalescing_delay():
    ran = []

    async def clicks():
        latest = LatestOnly(delay=0.2)
        loop = asyncio.get_running_loop()
        start = loop.time()
        latest.submit(lambda: ran.append(("first", loop.time() - start)))
        await asyncio.sleep(0.01)
        latest.submit(lambda: ran.append(("second", loop.time() - start)))  # right after a run
        await asyncio.sleep(0.3)

    asyncio.run(clicks())
    assert [name for name, _ in ran] == ["first", "second"]
    assert ran[0][1] < 0.05, "a lone click waits for nothing"
    assert ran[1][1] >= 0.2, "a request right after a run is coalesced"
