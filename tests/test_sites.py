"""Sites: one per call, named so a person recognises them, with masks that add up."""

import pytest
import torch

from gbp_widgets import GuidedBackprop
from gbp_widgets.engine.bitmask import pack, pack_on_device
from tests.reference import backprop_patched, formula, patched_rectifiers
from tests.zoo import torchvision_model, toy_model


def test_each_call_is_a_site_named_after_its_module(images):
    sites = GuidedBackprop(toy_model("reused_relu")).explain(images).sites
    assert [s.name for s in sites] == ["relu#1", "relu#2", "relu#3"]
    assert all(s.kind == "relu" and s.shape == (2, 8, 32, 32) for s in sites)


def test_functional_calls_take_the_enclosing_module_path(images):
    sites = GuidedBackprop(toy_model("functional_relus")).explain(images).sites
    names = [s.name for s in sites]
    assert names == [f"FunctionalReLUs#{k}" for k in range(1, 7)]


def test_kinds_of_the_clamped_family(images):
    sites = GuidedBackprop(toy_model("clamped_family")).explain(images).sites
    assert [(s.name, s.kind) for s in sites] == [
        ("act6#1", "relu6"),
        ("ClampedFamily#1", "relu6"),
        ("act3#1", "hardtanh"),
        ("ClampedFamily#2", "relu6"),
        ("ClampedFamily#3", "hardtanh"),
    ]


def test_torchvision_names():
    resnet = [
        s.name
        for s in GuidedBackprop(torchvision_model("resnet18"))
        .explain(torch.randn(1, 3, 64, 64))
        .sites
    ]
    assert resnet[:3] == ["relu#1", "layer1.0.relu#1", "layer1.0.relu#2"]
    assert len(resnet) == 17
    googlenet = [
        s.name
        for s in GuidedBackprop(torchvision_model("googlenet"))
        .explain(torch.randn(1, 3, 64, 64))
        .sites
    ]
    assert googlenet[0] == "conv1#1" and "inception3a.branch2.1#1" in googlenet
    densenet = [
        s.name
        for s in GuidedBackprop(torchvision_model("densenet121"))
        .explain(torch.randn(1, 3, 64, 64))
        .sites
    ]
    assert densenet[-1] == "DenseNet#1"


def test_forward_mask_is_where_the_input_was_positive(images):
    """Checked against the pre-activations seen by an independent patched run."""
    model = toy_model("clamped_family")
    explanation = GuidedBackprop(model).explain(images)
    inputs = []

    def remember(x, g, upper, call):
        return g

    with patched_rectifiers(remember) as seen:
        original = seen.rectify

        def spy(x, upper, inplace):
            inputs.append((x.detach().clone(), upper))
            return original(x, upper, inplace)

        seen.rectify = spy
        model(images.clone())
    assert len(inputs) == len(explanation.sites)
    for site, (x, upper) in zip(explanation.sites, inputs, strict=True):
        expected = (x > 0) if upper is None else (x > 0) & (x < upper)
        assert torch.equal(site.forward_mask, expected), site.name
    saturated = inputs[0][0] >= 6
    assert saturated.any(), "the test model should drive some ReLU6 inputs past 6"


@pytest.mark.parametrize("rule", ["gradient", "deconvnet", "guided"])
def test_backward_mask_is_where_the_incoming_gradient_was_positive(rule, images):
    model = toy_model("module_relus")
    explanation = GuidedBackprop(model).explain(images, target=[1, 2], rule=rule)
    incoming = {}

    def record(x, g, upper, call):
        incoming[call] = g.detach().clone()
        return formula(rule)(x, g, upper, call)

    backprop_patched(model, images, [1, 2], record)
    for call, site in enumerate(explanation.sites):
        assert torch.equal(site.backward_mask, incoming[call] > 0), site.name
        assert torch.equal(site.product, site.forward_mask & site.backward_mask)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_guided_gradient_equals_backprop_through_recorded_products(name):
    model = torchvision_model(name)
    torch.manual_seed(6)
    x = torch.randn(1, 3, 64, 64)
    explanation = GuidedBackprop(model).explain(x, target=9)
    products = [site.product for site in explanation.sites]

    def replay(x_, g, upper, call):
        return g * products[call]

    with patched_rectifiers(replay):
        leaf = x.clone().requires_grad_(True)
        logits = model(leaf.clone())
        (replayed,) = torch.autograd.grad(logits[0, 9], leaf)
    torch.testing.assert_close(explanation.attribution, replayed, rtol=1e-4, atol=1e-7)


def test_masks_are_bit_packed_not_float(images):
    site = GuidedBackprop(toy_model("module_relus")).explain(images).sites[0]
    elements = 2 * 8 * 32 * 32
    assert site.mask_nbytes == 2 * elements // 8
    assert site.forward_mask.dtype == torch.bool


def test_no_masks_without_capture(images):
    site = GuidedBackprop(toy_model("module_relus")).explain(images, capture_masks=False).sites[0]
    assert site.mask_nbytes == 0
    with pytest.raises(RuntimeError, match="capture_masks=True"):
        _ = site.forward_mask


def test_sites_past_a_neuron_target_got_no_gradient():
    from gbp_widgets import Neuron

    model = toy_model("reused_relu")
    explanation = GuidedBackprop(model).explain(
        torch.rand(1, 3, 32, 32), target=Neuron("relu#1", 0)
    )
    last = explanation.site("relu#3")
    assert last.forward_mask.any() and not last.backward_mask.any()
    assert explanation.site("relu#1").backward_mask[:, 1:].sum() == 0


def test_pack_round_trip_keeps_odd_shapes():
    mask = torch.rand(3, 5, 7) > 0.5
    assert torch.equal(pack(mask).unpack(), mask)


def test_the_device_packing_route_gives_numpys_bits():
    """The GPU route runs on any device; check its bit layout here against NumPy's."""
    for shape in [(1,), (7,), (8,), (3, 5, 7), (2, 64, 9)]:
        mask = torch.rand(shape) > 0.5
        on_device = pack_on_device(mask)
        assert torch.equal(on_device.bits, pack(mask).bits), shape
        assert torch.equal(on_device.unpack(), mask)
    strided = (torch.rand(6, 10) > 0.5).t()
    assert torch.equal(pack_on_device(strided).unpack(), strided)


def test_recordings_can_keep_the_numbers_behind_the_masks(images):
    """Pre-activations and incoming gradients, checked against an independent patched run."""
    model = toy_model("functional_relus")
    recording = GuidedBackprop(model).record(images, keep_values=True)
    backprop = recording.backprop(target=[1, 2], rule="guided")
    seen_inputs, seen_grads = {}, {}

    def record(x, g, upper, call):
        seen_inputs[call], seen_grads[call] = x, g.detach().clone()
        return formula("guided")(x, g, upper, call)

    backprop_patched(model, images, [1, 2], record)
    assert len(recording.site_inputs) == len(seen_inputs) == 6
    for index in seen_inputs:
        assert torch.equal(recording.site_inputs[index], seen_inputs[index])
        torch.testing.assert_close(backprop.site_grads[index], seen_grads[index])
