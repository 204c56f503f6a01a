"""Property tests of the rule algebra at a single rectifier, on random tensors."""

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gbp_widgets import GuidedBackprop
from gbp_widgets.engine.bitmask import pack
from gbp_widgets.engine.rules import apply_rule
from tests.reference import formula

finite = st.floats(-8, 8, allow_nan=False, width=32)
shapes = st.tuples(st.integers(1, 4), st.integers(1, 9))
uppers = st.sampled_from([None, 6.0, 2.5])


@st.composite
def site_values(draw):
    """(pre-activation x, output y, incoming gradient g, upper bound k)."""
    shape = draw(shapes)
    upper = draw(uppers)
    x = torch.from_numpy(draw(arrays("float32", shape, elements=finite)))
    g = torch.from_numpy(draw(arrays("float32", shape, elements=finite)))
    y = x.clamp(min=0.0) if upper is None else x.clamp(0.0, upper)
    return x, y, g, upper


@settings(max_examples=200, deadline=None)
@given(site_values())
def test_gradient_rule_is_autograds_own_derivative(values):
    x, y, g, upper = values
    leaf = x.clone().requires_grad_(True)
    out = F.relu(leaf) if upper is None else F.hardtanh(leaf, 0.0, upper)
    (expected,) = torch.autograd.grad(out, leaf, g)
    assert torch.equal(apply_rule("gradient", g, y, upper), expected)


@settings(max_examples=200, deadline=None)
@given(site_values(), st.sampled_from(["gradient", "deconvnet", "guided"]))
def test_each_rule_is_its_formula_whether_given_the_input_or_the_output(values, rule):
    x, y, g, upper = values
    expected = formula(rule)(x, g, upper, 0)
    # The engine saves the input where torch does (hardtanh, clamp) and the output elsewhere.
    assert torch.equal(apply_rule(rule, g, x, upper), expected)
    assert torch.equal(apply_rule(rule, g, y, upper), expected)


@settings(max_examples=200, deadline=None)
@given(site_values())
def test_guided_passes_only_where_both_masks_are_on(values):
    x, y, g, upper = values
    guided = apply_rule("guided", g, y, upper)
    forward = (x > 0) if upper is None else (x > 0) & (x < upper)
    passed = forward & (g > 0)
    assert torch.equal(guided[passed], g[passed])
    assert (guided[~passed] == 0).all()
    assert torch.equal(apply_rule("deconvnet", g, y, upper)[g > 0], g[g > 0])


@settings(max_examples=100, deadline=None)
@given(arrays("bool", st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 11))))
def test_bit_packing_round_trips(mask):
    tensor = torch.from_numpy(mask)
    packed = pack(tensor)
    assert packed.nbytes == (mask.size + 7) // 8
    assert torch.equal(packed.unpack(), tensor)


class OneSite(torch.nn.Module):
    def __init__(self, upper):
        super().__init__()
        self.upper = upper

    def forward(self, x):
        out = (
            torch.relu(x)
            if self.upper is None
            else F.relu6(x)
            if self.upper == 6.0
            else (F.hardtanh(x, 0.0, self.upper))
        )
        return out.flatten(1)


@settings(max_examples=60, deadline=None)
@given(site_values(), st.sampled_from(["gradient", "deconvnet", "guided"]))
def test_engine_at_one_site_matches_the_rule(values, rule):
    x, y, g, upper = values
    seed = g.reshape(1, -1)
    engine = GuidedBackprop(OneSite(upper))
    explanation = engine.explain(
        x.reshape(1, 1, *x.shape), target=lambda z: (z * seed).sum(1), rule=rule
    )
    expected = formula(rule)(x, g, upper, 0)
    assert torch.equal(explanation.attribution.reshape(x.shape), expected)
    site = explanation.sites[0]
    in_range = (x > 0) if upper is None else (x > 0) & (x < upper)
    assert torch.equal(site.forward_mask.reshape(x.shape), in_range)
    assert torch.equal(site.backward_mask.reshape(x.shape), g > 0)
