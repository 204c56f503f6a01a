"""captum as a second oracle, on models whose ReLUs are all nn.ReLU modules."""

import warnings

import pytest
import torch

from gbp_widgets import GuidedBackprop
from tests.zoo import torchvision_model, toy_model

captum_attr = pytest.importorskip("captum.attr")

CAPTUM_METHODS = {
    "guided": lambda m: captum_attr.GuidedBackprop(m),
    "deconvnet": lambda m: captum_attr.Deconvolution(m),
    "gradient": lambda m: captum_attr.Saliency(m),
}


def captum_map(model, x, classes, rule):
    options = {"abs": False} if rule == "gradient" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # captum's own notices about input gradients
        return CAPTUM_METHODS[rule](model).attribute(x.clone(), target=classes, **options)


@pytest.mark.parametrize("rule", sorted(CAPTUM_METHODS))
@pytest.mark.parametrize("name", ["resnet18", "vgg11_bn", "squeezenet1_1", "module_relus"])
def test_engine_matches_captum(name, rule):
    model = toy_model(name) if name == "module_relus" else torchvision_model(name)
    torch.manual_seed(5)
    x = torch.randn(2, 3, 64, 64)
    classes = [2, 7]
    ours = GuidedBackprop(model).explain(x, target=classes, rule=rule).attribution
    theirs = captum_map(model, x, classes, rule)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5 * theirs.abs().max().item())


def test_captum_is_wrong_where_relus_are_functional():
    """Why the engine exists: on DenseNet's functional ReLU captum's map differs."""
    model = torchvision_model("densenet121")
    torch.manual_seed(5)
    x = torch.randn(1, 3, 64, 64)
    ours = GuidedBackprop(model).explain(x, target=3).attribution
    theirs = captum_map(model, x, [3], "guided")
    assert not torch.allclose(ours, theirs, rtol=1e-3, atol=1e-3 * ours.abs().max().item())
