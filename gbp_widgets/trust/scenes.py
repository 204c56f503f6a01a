"""An offline localisation set, so the pointing game can be played without VOC or COCO:
scikit-learn's digits scaled up and pasted at random places on cluttered fields, each with
the box of its ink as ground truth, and a small max-pooling ReLU CNN that learns to name
them in well under a minute on two CPU cores."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gbp_widgets.sanity.data import accuracy, load_digits_tensors, train
from gbp_widgets.threads import torch_threads

SIDE = 56  # a scene is SIDE x SIDE pixels
SCALE = 3  # each 8 x 8 digit is pasted as 24 x 24
# Digits from this index on are never trained on: their scenes are the ones scored.
FIRST_HELD_OUT = 1500
# The clutter: faint noise everywhere, bright bars, and pieces of other digits, so that
# ink alone does not say where the digit is.
NOISE, BARS, PIECES = 0.25, 3, 1
PIECE = 3  # a piece is a PIECE x PIECE corner of another digit, scaled like the digit
# The trained network the package ships (gbp_widgets/trust/train.py writes it).
WEIGHTS = Path(__file__).with_name("scene_cnn.pt")


@dataclass(frozen=True)
class Scenes:
    """``images``: ``(N, 1, SIDE, SIDE)`` floats in [0, 1]; ``labels``: ``(N,)`` the
    digit's class; ``boxes``: ``(N, SIDE, SIDE)`` bool, True inside the smallest
    rectangle around the pasted digit's ink."""

    images: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, count: int) -> Scenes:
        """The first ``count`` scenes."""
        return Scenes(self.images[:count], self.labels[:count], self.boxes[:count])


class SceneCNN(nn.Module):
    """``(N, 1, 56, 56)`` scenes -> ``(N, 10)`` digit scores. Three blocks of a
    convolution, batch normalisation (without which it sat at chance for many epochs), a
    ReLU and 2 x 2 max-pooling (56 -> 7 px), a fourth such block without pooling, global
    average pooling and a linear classifier: the pooling lets it find a digit wherever it
    is, as VGG finds objects in VOC pictures. Each block ends with its ReLU, so the last
    block's output is the last post-ReLU feature map, where TorchRay takes Grad-CAM on
    VGG16 (``features.29``)."""

    def __init__(self) -> None:
        super().__init__()
        widths = (1, 16, 32, 64, 64)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU())
            for a, b in itertools.pairwise(widths)
        )
        self.head = nn.Linear(widths[-1], 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks[:-1]:
            x = F.max_pool2d(block(x), 2)
        return self.head(self.blocks[-1](x).mean(dim=(2, 3)))


def make_scenes(digits: torch.Tensor, labels: torch.Tensor, seed: int) -> Scenes:
    """One scene per digit: ``digits`` ``(N, 1, 8, 8)`` in [0, 1] (as
    :func:`gbp_widgets.sanity.data.load_digits_tensors` gives) scaled by ``SCALE`` and
    pasted at a random place of its own cluttered field. Deterministic for a ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    count = len(digits)
    scaled = F.interpolate(digits, scale_factor=SCALE, mode="nearest")
    fields = NOISE * torch.rand(count, 1, SIDE, SIDE, generator=generator)
    for _ in range(BARS):
        _paste(fields, _bars(count, generator), generator)
    for _ in range(PIECES):
        others = scaled[torch.randint(0, count, (count,), generator=generator)]
        corner = torch.randint(0, 8 - PIECE + 1, (2,), generator=generator) * SCALE
        y, x = corner.tolist()
        _paste(fields, others[:, :, y : y + PIECE * SCALE, x : x + PIECE * SCALE], generator)
    places = _paste(fields, scaled, generator)
    boxes = torch.zeros(count, SIDE, SIDE, dtype=torch.bool)
    for i, (y, x) in enumerate(places.tolist()):
        rows, columns = scaled[i, 0].gt(0).nonzero().unbind(1)
        boxes[i, y + rows.min() : y + rows.max() + 1, x + columns.min() : x + columns.max() + 1] = 1
    return Scenes(fields, labels.clone(), boxes)


def _bars(count: int, generator: torch.Generator) -> torch.Tensor:
    """``(count, 1, 12, 12)`` patches, each with one bright bar across or down, 2 px wide."""
    patches = torch.zeros(count, 1, 12, 12)
    down = torch.rand(count, generator=generator) < 0.5
    patches[~down, :, 5:7, :] = 1.0
    patches[down, :, :, 5:7] = 1.0
    return patches


def _paste(fields: torch.Tensor, patches: torch.Tensor, generator: torch.Generator):
    """Lay each patch over its field at a random place, the brighter pixel winning;
    returns the ``(N, 2)`` top-left corners."""
    side = patches.shape[-1]
    places = torch.randint(0, SIDE - side + 1, (len(fields), 2), generator=generator)
    for i, (y, x) in enumerate(places.tolist()):
        spot = fields[i, :, y : y + side, x : x + side]
        spot.copy_(torch.maximum(spot, patches[i]))
    return places


@dataclass(frozen=True)
class SceneModel:
    """A trained :class:`SceneCNN` with its accuracies (share of scenes named right)."""

    model: SceneCNN
    train_accuracy: float
    test_accuracy: float


def scene_sets(seed: int = 0, copies: int = 2) -> tuple[Scenes, Scenes]:
    """Training scenes (``copies`` per digit before ``FIRST_HELD_OUT``, each on another
    field) and held-out scenes (one per later digit, 297 in all)."""
    digits, labels = load_digits_tensors()
    trained = [
        make_scenes(digits[:FIRST_HELD_OUT], labels[:FIRST_HELD_OUT], seed + copy)
        for copy in range(copies)
    ]
    held_out = make_scenes(digits[FIRST_HELD_OUT:], labels[FIRST_HELD_OUT:], seed + copies)
    training = Scenes(
        torch.cat([s.images for s in trained]),
        torch.cat([s.labels for s in trained]),
        torch.cat([s.boxes for s in trained]),
    )
    return training, held_out


def train_scene_model(training: Scenes, held_out: Scenes, seed: int = 0) -> SceneModel:
    """A :class:`SceneCNN` trained on ``training`` until it names 99 % of them (checked
    every few epochs, at most 20), with its accuracies on both sets. Trained on one
    PyTorch thread, so a seed gives the same network whatever the cores (on the same kind
    of processor): the package ships the one :func:`shipped_scene_model` loads."""
    with torch_threads(1):
        model = train(training.images, training.labels, 20, seed, goal=0.99, make=SceneCNN)
    return _measured(model, training, held_out)


def shipped_scene_model(training: Scenes, held_out: Scenes) -> SceneModel:
    """The :class:`SceneCNN` that ``python -m gbp_widgets.trust.train`` trained with
    :func:`train_scene_model` on :func:`scene_sets` (seed 0) and the package ships
    (``scene_cnn.pt``, 250 kB), with its accuracies on ``training`` and ``held_out``: the
    same numbers on every machine, and no training to wait for."""
    model = SceneCNN()
    model.load_state_dict(torch.load(WEIGHTS, weights_only=True))
    return _measured(model.eval(), training, held_out)


def _measured(model: nn.Module, training: Scenes, held_out: Scenes) -> SceneModel:
    return SceneModel(
        model,
        accuracy(model, training.images, training.labels),
        accuracy(model, held_out.images, held_out.labels),
    )
