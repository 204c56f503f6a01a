"""The Explorer with ``activations="gated"``: chosen in its menu as a person does, the gated
calls become sites whose soft masks are drawn in grey levels under a "gate s(x)" key, the
captions name the activation and say the masks are our extension; bad values are refused."""

import html
import re

import numpy as np
import pytest
import torch
from torch import nn

from gbp_widgets import Explorer
from tests import page


def gated_model():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.GELU(),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.SiLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    )
    return model.eval()


def live_words(strip) -> tuple[str, dict[str, str], dict[str, str]]:
    """A row's caption, its panels' captions and their keys, as the browser shows them."""
    keys = {}
    for name, key in strip.keys.items():
        spans = re.findall(r"<span[^>]*>([^<]*)</span>", key)
        keys[name] = " | ".join(html.unescape(word) for word in spans if word)
    return strip.caption, dict(strip.captions), keys


@pytest.fixture
def explorer():
    torch.manual_seed(1)
    return Explorer(model=gated_model(), inputs=torch.randn(1, 3, 16, 16), panel_size=64)


def test_by_default_the_gated_calls_are_reported_not_drawn(explorer):
    assert explorer.activations == "relu"
    assert explorer.session.site_names == []
    assert "activations='gated' makes GELU" in html.unescape(explorer.status.value)
    assert [label for label, _ in explorer.controls.activations.options] == [
        "ReLU family",
        "+ gates (ours)",
    ]


def test_gates_chosen_in_the_menu_become_sites_with_soft_masks(explorer):
    page.choose(explorer.controls.activations, "gated")
    assert explorer.activations == "gated" and explorer.message == ""
    assert explorer.session.site_names == ["1#1", "3#1"]
    assert "plain gradients" not in explorer.status.value
    panels = explorer.refresh()
    caption, captions, keys = live_words(explorer.rows[1])
    assert caption == (
        "masks at gated site 1#1 (gelu), all channels (soft masks: our extension of the method)"
    )
    assert captions["forward"] == "forward: gate s(x)"
    assert captions["product"] == "product s(x) 1[g>0]"
    assert keys["forward"] == "0 | gate s(x), mean of channels | 1"
    assert keys["product"] == "0 | s(x) 1[g>0], mean of channels | 1"
    assert keys["backward"] == "0 | share of channels on | 1"
    # Grey levels between black and white, not only the two of a boolean mask.
    grey = panels["forward"][..., 0]
    assert len(np.unique(grey)) > 10
    explorer.channel = 2
    explorer.refresh()
    _, _, keys = live_words(explorer.rows[1])
    assert keys["forward"] == "0 | gate s(x) | 1" and keys["backward"] == "off | on"
    assert keys["product"] == "0 | s(x) 1[g>0] | 1"
    explorer.site = 1
    explorer.refresh()
    assert live_words(explorer.rows[1])[0].startswith("masks at gated site 3#1 (silu), channel")
    figure = explorer.figure()
    words = [[t.get_text() for t in axis.get_xticklabels()] for axis in figure.axes]
    # The forward mask under the gate's key; the product and the channel grid of
    # products under the product's.
    assert words.count(["0", "gate s(x)", "1"]) == 1
    assert words.count(["0", "s(x) 1[g>0]", "1"]) == 2
    titles = [axis.get_title() for axis in figure.axes]
    assert "forward: gate s(x)" in titles


def test_the_soft_mask_shown_is_the_gate_of_the_pre_activation(explorer):
    explorer.activations = "gated"
    explorer.channel = 0
    mask = explorer.session.site_masks(explorer.session.result(0, "guided"), 0)["forward"]
    pre = explorer.session.engine.model[0](explorer.session.inputs)[0].detach()
    expected = 0.5 * (1 + torch.erf(pre / 2**0.5))
    np.testing.assert_allclose(mask, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_back_to_relu_the_sites_go_and_the_model_is_untouched(explorer):
    before = {k: v.clone() for k, v in explorer.session.engine.model.state_dict().items()}
    page.choose(explorer.controls.activations, "gated")
    page.choose(explorer.controls.activations, "relu")
    assert explorer.session.site_names == [] and explorer.site == 0
    after = explorer.session.engine.model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())


def test_the_sanity_tab_runs_with_the_explorers_activations(explorer):
    explorer.activations = "gated"
    result = explorer.run_sanity(max_steps=1)
    assert result.activations == "gated"
    labels = [axis.get_ylabel() for axis in result.grid_figure().axes]
    assert "guided, gates (ours)" in labels and "gradient" in labels


def test_the_constructor_takes_activations_and_refuses_unknown_ones():
    inputs = torch.randn(1, 3, 16, 16)
    explorer = Explorer(model=gated_model(), inputs=inputs, panel_size=64, activations="gated")
    assert explorer.session.site_names == ["1#1", "3#1"]
    with pytest.raises(ValueError, match="activations='swish': unknown activations 'swish'"):
        Explorer(model=gated_model(), inputs=inputs, panel_size=64, activations="swish")
