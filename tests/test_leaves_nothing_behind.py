"""After explain returns or raises, the model and torch are exactly as they were."""

import threading

import pytest
import torch
import torch.nn.functional as F

from gbp_widgets import GuidedBackprop, guided_gradcam
from tests.fingerprint import assert_same, snapshot
from tests.zoo import Stem, torchvision_model, toy_model


class Explodes(Stem):
    """Raises in the middle of its forward, after two ReLU calls."""

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        raise RuntimeError("boom in forward")


@pytest.mark.parametrize("training", [False, True])
def test_explain_leaves_the_model_as_it_was(training):
    model = torchvision_model("resnet18").train(training)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        plain_before = model.eval()(x)
    model.train(training)
    before = snapshot(model)
    for rule in ("gradient", "deconvnet", "guided"):
        GuidedBackprop(model).explain(x, rule=rule)
    guided_gradcam(model, x)
    assert_same(before, snapshot(model))
    with torch.no_grad():
        assert torch.equal(model.eval()(x), plain_before)


def test_a_forward_that_raises_leaves_nothing_behind():
    model = Explodes()
    model.conv2.register_forward_hook(lambda *args: None)
    before = snapshot(model)
    with pytest.raises(RuntimeError, match="boom in forward"):
        GuidedBackprop(model).explain(torch.randn(1, 3, 16, 16))
    assert_same(before, snapshot(model))


def test_the_users_grad_mode_and_inference_mode_are_respected():
    model = toy_model("module_relus")
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        explanation = GuidedBackprop(model).explain(x)
        assert not torch.is_grad_enabled()
    with torch.inference_mode():
        in_inference = GuidedBackprop(model).explain(x)
        assert torch.is_inference_mode_enabled()
    torch.testing.assert_close(explanation.attribution, in_inference.attribution)


def test_the_users_input_is_not_modified():
    model = toy_model("functional_relus")
    x = torch.randn(2, 3, 16, 16)
    kept = x.clone()
    GuidedBackprop(model).explain(x)
    assert torch.equal(x, kept) and x.grad is None and not x.requires_grad


def test_in_place_relu_without_assignment_keeps_its_meaning():
    """Logits with and without the engine are bitwise equal on in-place-only ReLUs."""
    model = toy_model("functional_relus")
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        plain = model(x)
    explanation = GuidedBackprop(model).explain(x)
    assert torch.equal(explanation.logits, plain)


@pytest.mark.parametrize("name", ["resnet18", "densenet121", "mobilenet_v2", "googlenet"])
def test_logits_are_unchanged_on_models_with_in_place_relus(name):
    model = torchvision_model(name)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        plain = model(x)
    assert torch.equal(GuidedBackprop(model).explain(x).logits, plain)


def test_two_engines_in_two_threads_do_not_disturb_each_other():
    models = [toy_model("reused_relu"), torchvision_model("squeezenet1_1")]
    inputs = [torch.randn(2, 3, 32, 32), torch.randn(2, 3, 64, 64)]
    expected = [GuidedBackprop(m).explain(x) for m, x in zip(models, inputs, strict=True)]
    failures = []
    start = threading.Barrier(2)

    def work(index):
        engine = GuidedBackprop(models[index])
        start.wait()
        for _ in range(8):
            got = engine.explain(inputs[index])
            if not torch.equal(got.attribution, expected[index].attribution) or [
                s.name for s in got.sites
            ] != [s.name for s in expected[index].sites]:
                failures.append(index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
