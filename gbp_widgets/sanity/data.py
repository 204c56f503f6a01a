"""Data-randomisation sanity check: a model trained on shuffled labels should explain
differently from one trained on the true labels. Small CNNs on scikit-learn's digits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gbp_widgets.engine import GuidedBackprop
from gbp_widgets.pictures.figures import NotebookFigure, gray_key
from gbp_widgets.sanity.metrics import METRICS, normalised_map, similarities

# How often training stops to measure its accuracy on the whole training set.
CHECK_EVERY = 5


class DigitsCNN(nn.Module):
    """A small ReLU CNN for the 8 x 8 digits, wide enough to memorise all 1,797 of them
    under shuffled labels, as the data-randomisation test needs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.hidden = nn.Linear(32 * 4 * 4, 512)
        self.head = nn.Linear(512, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.head(F.relu(self.hidden(x.flatten(1))))


@dataclass
class DataRandomization:
    """Two models, their training accuracies, and how alike their maps are.

    ``similarity[rule][metric]`` averages over the explained images;
    ``maps[(which, rule)]`` holds normalised ``(N, 8, 8)`` maps for
    ``which`` in ``("true", "random")``; ``images`` is ``(N, 8, 8)``.
    """

    true_model: DigitsCNN
    random_model: DigitsCNN
    true_accuracy: float
    random_accuracy: float
    similarity: dict[str, dict[str, float]]
    maps: dict[tuple[str, str], np.ndarray]
    images: np.ndarray

    def figure(self, rule: str = "guided", count: int = 6) -> NotebookFigure:
        """The first ``count`` digits over their ``rule`` maps (``|map|``) from the model
        trained on true labels and from the one trained on shuffled labels."""
        if ("true", rule) not in self.maps:
            ran = sorted({r for _, r in self.maps})
            raise ValueError(f"no {rule!r} maps in this outcome; it has {', '.join(ran)}")
        count = min(count, len(self.images))
        figure = NotebookFigure(figsize=(1.35 * count + 0.8, 4.6), layout="constrained")
        axes = figure.subplots(3, count, squeeze=False)
        rows = [
            ("digit", self.images),
            (f"{rule}, true labels", np.abs(self.maps[("true", rule)])),
            (f"{rule}, shuffled labels", np.abs(self.maps[("random", rule)])),
        ]
        for row, (label, pictures) in enumerate(rows):
            for column in range(count):
                axis = axes[row, column]
                # Digits are in [0, 1]; each map is divided by its own peak.
                axis.imshow(pictures[column], cmap="gray", vmin=0.0, vmax=1.0)
                axis.set_xticks([]), axis.set_yticks([])
            axes[row, 0].set_ylabel(label, fontsize=8)
        gray_key(figure, axes, "digit: ink; map: |map| / its peak")
        figure.suptitle(
            f"{rule} maps of a CNN trained on the digits' true labels and of one trained on "
            f"shuffled labels (train accuracy {self.true_accuracy:.0%} vs "
            f"{self.random_accuracy:.0%})",
            fontsize=9,
        )
        return figure


def load_digits_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled digits: ``(1797, 1, 8, 8)`` floats in [0, 1] and labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return images, torch.tensor(digits.target)


def train(
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int,
    seed: int,
    goal: float = 0.99,
    make: Callable[[], nn.Module] = DigitsCNN,
) -> nn.Module:
    """A new ``make()`` model trained with Adam, batches of 64, until the training accuracy
    reaches ``goal`` (checked every ``CHECK_EVERY`` epochs) or ``epochs`` have run;
    deterministic for a given ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make()
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), 64):
            batch = order[start : start + 64]
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if epoch % CHECK_EVERY == 0 and accuracy(model.eval(), images, labels) >= goal:
            break
    return model.eval()


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(images).argmax(1) == labels).float().mean())


def data_randomization(
    epochs: int = 80,
    explained: int = 32,
    rules: tuple[str, ...] = ("gradient", "guided"),
    seed: int = 0,
) -> DataRandomization:
    """Train on true and on permuted labels, each until it fits 99 % of its training labels
    (at most ``epochs``), then compare maps of ``explained`` digits (each explained for its
    true class). The shuffled-label network must memorise its labels, as in Adebayo et al.
    (2018): about 40 epochs, under half a minute on two idle CPU cores."""
    images, labels = load_digits_tensors()
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))]
    true_model = train(images, labels, epochs, seed)
    random_model = train(images, shuffled, epochs, seed)
    chosen, targets = images[:explained], labels[:explained]
    similarity, maps = {}, {}
    for rule in rules:
        pair = {}
        for which, model in (("true", true_model), ("random", random_model)):
            attribution = (
                GuidedBackprop(model)
                .explain(chosen, target=targets, rule=rule, capture_masks=False)
                .attribution
            )
            pair[which] = np.stack([normalised_map(a) for a in attribution.numpy()])
            maps[(which, rule)] = pair[which]
        scores = [similarities(a, b) for a, b in zip(pair["true"], pair["random"], strict=True)]
        similarity[rule] = {m: float(np.mean([s[m] for s in scores])) for m in METRICS}
    return DataRandomization(
        true_model,
        random_model,
        accuracy(true_model, images, labels),
        accuracy(random_model, images, shuffled),
        similarity,
        maps,
        chosen[:, 0].numpy(),
    )
