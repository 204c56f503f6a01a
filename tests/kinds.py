"""Small models of every kind the Explorer shows, built in milliseconds with fixed seeds."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PulseNet(nn.Module):
    """Notebook 07's 1-D signal classifier: ``(N, C, L)`` -> ``(N, 2)``."""

    def __init__(self, channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv1d(channels, 16, 5, padding=2)
        self.conv2 = nn.Conv1d(16, 16, 5, padding=2)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        return self.head(x.amax(dim=2))


class TinySegmenter(nn.Module):
    """Notebook 07's segmenter: ``(N, 3, H, W)`` -> ``{"out": (N, 3, H, W)}``."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=2, dilation=2)
        self.classify = nn.Conv2d(16, 3, 1)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        return {"out": self.classify(x)}


class VolumeNet(nn.Module):
    """A 3-D classifier: ``(N, 1, D, H, W)`` -> ``(N, 2)``, with a head ReLU on vectors."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv3d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv3d(4, 6, 3, padding=1)
        self.hidden = nn.Linear(6, 5)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(F.max_pool3d(x, 2)))
        return self.head(F.relu(self.hidden(x.mean((2, 3, 4)))))


class TableNet(nn.Module):
    """A tabular MLP: ``(N, F)`` -> ``(N, 3)``."""

    def __init__(self, features: int = 6):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, 12), nn.ReLU(), nn.Linear(12, 8), nn.ReLU())
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.body(x))


class PhotoAndRecord(nn.Module):
    """Two inputs and an extra argument, returning a dict (notebook 07)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.table = nn.Linear(5, 8)
        self.head = nn.Linear(8, 4)

    def forward(self, photo, record, temperature):
        mixed = F.relu(self.conv(photo)).mean((2, 3)) + F.relu(self.table(record))
        return {"logits": self.head(mixed) / temperature, "features": mixed}


def built(model: nn.Module, seed: int = 0) -> nn.Module:
    """``model`` with weights drawn from ``seed``, in eval mode."""
    torch.manual_seed(seed)
    for parameter in model.parameters():
        with torch.no_grad():
            parameter.copy_(torch.randn_like(parameter) * 0.4)
    return model.eval()


def detector() -> nn.Module:
    """torchvision's Faster R-CNN (MobileNet-V3) with random weights, small inputs, and
    every box kept (random weights score about 1/91)."""
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    torch.manual_seed(0)
    return fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, min_size=96, max_size=96, box_score_thresh=0.0
    ).eval()


def smallest_box(found: list) -> object:
    """The detection with the smallest box: a click at its centre can only mean it."""
    return min(found, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
