"""An engine's later passes watch only its activation modules, where its first pass found
every site and report in one (``gbp_widgets.engine.module_plan``): what they give is what
a pass watching every call gives, bit for bit, and a model changed between passes is
seen as it is now."""

import warnings

import timm
import torch
import torch.nn.functional as F
from torch import nn

from gbp_widgets import GuidedBackprop, GuidedBackpropWarning
from tests.fingerprint import assert_same, snapshot
from tests.zoo import TORCHVISION, torchvision_model

RULES = ("gradient", "deconvnet", "guided")


def assert_same_explanation(actual, expected):
    assert torch.equal(actual.attribution, expected.attribution)
    assert [(s.name, s.kind) for s in actual.sites] == [(s.name, s.kind) for s in expected.sites]
    assert actual.not_guided == expected.not_guided
    for mine, theirs in zip(actual.sites, expected.sites, strict=True):
        assert torch.equal(mine.forward_mask, theirs.forward_mask), mine.name
        assert torch.equal(mine.backward_mask, theirs.backward_mask), mine.name


class Watched:
    """Notes, at each call of ``module``, whether the call ran through a forward of the
    engine's own for this pass (the module's class forward is not what runs)."""

    def __init__(self, module: nn.Module) -> None:
        self.planned: list[bool] = []
        module.register_forward_pre_hook(lambda m, args: self.planned.append("forward" in vars(m)))


# Those whose every ReLU is a module's own call (DenseNet and GoogLeNet call F.relu).
PLANNED = {"resnet18", "vgg11_bn", "mobilenet_v2", "squeezenet1_1"}


def test_torchvision_models_give_the_same_maps_and_masks_on_every_pass():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    for name in TORCHVISION:
        model = torchvision_model(name)
        relu = next(m for m in model.modules() if type(m) in (nn.ReLU, nn.ReLU6, nn.Conv2d))
        watched = Watched(relu)
        engine = GuidedBackprop(model)
        for step, rule in enumerate(RULES):
            first = GuidedBackprop(model).explain(x, target=[1, 5], rule=rule)
            before = snapshot(model)
            watched.planned.clear()
            later = engine.explain(x, target=[1, 5], rule=rule)
            assert_same(before, snapshot(model))
            assert_same_explanation(later, first)
            # The engine's first pass watches every call; later ones, where a plan holds,
            # its activation modules only.
            expected = step > 0 and name in PLANNED and type(relu) is not nn.Conv2d
            assert watched.planned and set(watched.planned) == {expected}, name


class GeluMlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 16), nn.SiLU())
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.layers(x))


def test_gated_sites_and_reports_are_the_same_on_a_planned_pass():
    torch.manual_seed(1)
    model, x = GeluMlp().eval(), torch.randn(4, 8)
    watched = Watched(model.layers[1])
    for activations in ("relu", "gated"):
        engine = GuidedBackprop(model, activations=activations)
        with warnings.catch_warnings():
            # With activations="relu" the GELU and SiLU are reported, as they should be.
            warnings.simplefilter("ignore", GuidedBackpropWarning)
            first = engine.explain(x, target=2)
            second = engine.explain(x, target=2)
        assert_same_explanation(second, first)
    # Each engine's first pass watched every call, its second only the modules.
    assert watched.planned == [False, True, False, True]


class FunctionalTail(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.act = nn.ReLU()
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        x = F.relu(self.conv(x) - 0.1)  # a site made outside any activation module
        return self.head(self.act(x).mean((2, 3)))


def test_a_site_outside_an_activation_module_keeps_every_call_watched():
    torch.manual_seed(2)
    model, x = FunctionalTail().eval(), torch.randn(2, 3, 8, 8)
    watched = Watched(model.act)
    engine = GuidedBackprop(model)
    first, second = engine.explain(x), engine.explain(x)
    assert watched.planned == [False, False]
    assert [s.name for s in second.sites] == ["FunctionalTail#1", "act#1"]
    assert_same_explanation(second, first)


def test_a_module_replaced_between_passes_is_seen_as_it_is_now():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2)).eval()
    x = torch.randn(1, 3, 8, 8)
    engine = GuidedBackprop(model)
    engine.explain(x)
    engine.explain(x)  # planned: the ReLU module
    model[1] = nn.ReLU6()
    now = engine.explain(x)
    assert [(s.name, s.kind) for s in now.sites] == [("1#1", "relu6")]
    assert_same_explanation(now, GuidedBackprop(model).explain(x))


def test_inputs_of_another_shape_are_watched_afresh():
    torch.manual_seed(4)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=3).eval()
    engine = GuidedBackprop(model)
    for size in (32, 48, 32):
        x = torch.randn(1, 3, size, size)
        assert_same_explanation(engine.explain(x), GuidedBackprop(model).explain(x))
