"""Small models that call ReLUs every way PyTorch allows, plus torchvision models."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn


class Stem(nn.Module):
    def __init__(self, channels: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv3 = nn.Conv2d(channels, channels, 3, padding=1)
        self.head = nn.Linear(channels, classes)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


class ModuleReLUs(Stem):
    """nn.ReLU out of place, nn.ReLU in place."""

    def __init__(self) -> None:
        super().__init__()
        self.act1 = nn.ReLU()
        self.act2 = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.pool(self.conv3(self.act2(self.conv2(self.act1(self.conv1(x))))))


class ReusedReLU(Stem):
    """One nn.ReLU module called three times: three sites."""

    def __init__(self) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        return self.pool(self.relu(self.conv3(x)))


class FunctionalReLUs(Stem):
    """F.relu, torch.relu, Tensor.relu, Tensor.relu_ unassigned, F.relu(inplace), torch.relu_."""

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = self.conv3(x).relu()
        y = x * 1.5
        y.relu_()
        y = F.relu(y - 0.1, inplace=True)
        return self.pool(torch.relu_(y + 0.05))


class ClampedFamily(Stem):
    """nn.ReLU6, F.relu6, F.relu6 in place, nn.Hardtanh(0, 3), F.hardtanh(x, 0, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.act6 = nn.ReLU6()
        self.act3 = nn.Hardtanh(0.0, 3.0)

    def forward(self, x):
        x = self.act6(4 * self.conv1(x))
        x = F.relu6(4 * self.conv2(x))
        x = self.act3(4 * self.conv3(x))
        x = F.relu6(x * 3, inplace=True)
        return self.pool(F.hardtanh(x, 0.0, 2.0))


class UncoveredMix(Stem):
    """A ReLU next to GELU, SiLU, LeakyReLU and a sigmoid gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gelu = nn.GELU()
        self.leaky = nn.LeakyReLU(0.1)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = self.gelu(self.conv2(x))
        x = F.silu(x) * torch.sigmoid(x)
        return self.pool(self.leaky(self.conv3(x)))


class NoReLU(Stem):
    def forward(self, x):
        return self.pool(torch.tanh(self.conv2(torch.tanh(self.conv1(x)))))


TOY_MODELS = {
    "module_relus": ModuleReLUs,
    "reused_relu": ReusedReLU,
    "functional_relus": FunctionalReLUs,
    "clamped_family": ClampedFamily,
}

TORCHVISION = ("resnet18", "vgg11_bn", "densenet121", "mobilenet_v2", "googlenet", "squeezenet1_1")


def torchvision_model(name: str) -> nn.Module:
    torch.manual_seed(0)
    extra = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    return getattr(torchvision.models, name)(weights=None, **extra).eval()


def toy_model(name: str) -> nn.Module:
    torch.manual_seed(0)
    return TOY_MODELS[name]().eval()
