"""The trained text models that ship with the package, and how they are trained.

``char_gpt.pt``: a character-level GPT (2 blocks, width 64, context 64, GELU) trained on
the help topics that ship with Python (``pydoc_data.topics``: 465k characters, the language
reference's and library's help texts), with its :class:`CharTokenizer`. ``planted.pt``: a
one-block classifier of :mod:`~gbp_widgets.text.planted` sentences. Both are retrained by
``python -m gbp_widgets.text.train``; tests train smaller copies with the same functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from gbp_widgets.text.planted import PLANTED_CLASSES, WORDS, WordTokenizer, planted_sentences
from gbp_widgets.text.tokenizers import CharTokenizer
from gbp_widgets.text.transformer import TinyTransformer, next_token_loss

HERE = Path(__file__).parent
CHAR_WEIGHTS = HERE / "char_gpt.pt"
PLANTED_WEIGHTS = HERE / "planted.pt"


def help_topics() -> str:
    """Python's help topics as one text (the order of their keys, sorted)."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


@dataclass(frozen=True)
class Trained:
    """A trained model, its tokenizer and what it scored: ``held_out`` (nats per token
    for the language model, the share right for the classifier) and ``seconds``."""

    model: TinyTransformer
    tokenizer: object
    held_out: float
    seconds: float


def train_char_gpt(steps: int = 3000, width: int = 64, layers: int = 2, seed: int = 0) -> Trained:
    """Train the character GPT on :func:`help_topics` (the last 5 % held out)."""
    torch.manual_seed(seed)
    text = help_topics()
    tokenizer = CharTokenizer("".join(sorted(set(text))))
    data = torch.tensor(tokenizer(text))
    cut = int(0.95 * len(data))
    train, held = data[:cut], data[cut:]
    model = TinyTransformer(len(tokenizer), context=64, width=width, layers=layers, heads=4)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 3e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        loss = next_token_loss(model, _windows(train, 32, 65, generator))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    model.eval()
    with torch.no_grad():
        held_loss = next_token_loss(model, _windows(held, 256, 65, generator)).item()
    return Trained(model, tokenizer, held_loss, time.perf_counter() - start)


def _windows(data: torch.Tensor, count: int, length: int, generator) -> torch.Tensor:
    starts = torch.randint(0, len(data) - length, (count,), generator=generator)
    return torch.stack([data[s : s + length] for s in starts.tolist()])


def train_planted(steps: int = 600, seed: int = 0) -> Trained:
    """Train the planted-evidence classifier; ``held_out`` is its accuracy on new sentences."""
    torch.manual_seed(seed)
    model = TinyTransformer(
        len(WORDS), context=16, width=32, layers=1, heads=2, classes=len(PLANTED_CLASSES)
    )
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    start = time.perf_counter()
    for step in range(steps):
        batch = planted_sentences(64, seed=1000 + step)
        loss = torch.nn.functional.cross_entropy(model(batch.ids), batch.labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    test = planted_sentences(500, seed=seed + 1)
    with torch.no_grad():
        right = (model(test.ids).argmax(1) == test.labels).float().mean().item()
    return Trained(model, WordTokenizer(), right, time.perf_counter() - start)


def save(trained: Trained, path: Path) -> None:
    """Write the model's configuration and weights (and a character vocabulary) whole or
    not at all."""
    vocabulary = getattr(trained.tokenizer, "characters", None)
    partial = path.with_suffix(".partial")
    torch.save(
        {"config": trained.model.config, "state": trained.model.state_dict(), "chars": vocabulary},
        partial,
    )
    partial.replace(path)


def _load(path: Path) -> tuple[TinyTransformer, dict]:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = TinyTransformer(**saved["config"])
    model.load_state_dict(saved["state"])
    return model.eval(), saved


@lru_cache(maxsize=1)
def _char_model() -> tuple[TinyTransformer, CharTokenizer]:
    model, saved = _load(CHAR_WEIGHTS)
    return model, CharTokenizer(saved["chars"])


def load_char_model() -> tuple[TinyTransformer, CharTokenizer]:
    """The shipped character GPT (eval mode, CPU) and its tokenizer: next-token scores
    ``(N, T, V)`` for ids ``(N, T)``, ``T`` at most 64. A fresh copy each call, so
    one user's edits never reach another's."""
    model, tokenizer = _char_model()
    copy = TinyTransformer(**model.config)
    copy.load_state_dict(model.state_dict())
    return copy.eval(), tokenizer


def load_planted_model() -> tuple[TinyTransformer, WordTokenizer]:
    """The shipped planted-evidence classifier (eval mode, CPU): class scores ``(N, 3)``
    for :func:`~gbp_widgets.text.planted_sentences` ids, and its word tokenizer."""
    model, _ = _load(PLANTED_WEIGHTS)
    return model, WordTokenizer()
