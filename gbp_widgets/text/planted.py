"""Synthetic sentences with a planted evidence word, for a classifier whose map can be
scored: the pointing game for text.

Each sentence is ``LENGTH`` words: filler words drawn at random, and at one random position
one evidence word, which alone says the class (three evidence words per class). Where the
evidence is, is known, so a map is right on a sentence when its top token is that word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

PLANTED_CLASSES = ("animal", "vehicle", "food")
EVIDENCE = (("cat", "horse", "owl"), ("bus", "tram", "truck"), ("soup", "bread", "plum"))
FILLER = tuple(
    "the a of and to in is it that was on for with as at by this from or but not are be "
    "we they he she you all there one so up out if about who which when then its some".split()
)
WORDS = FILLER + tuple(word for words in EVIDENCE for word in words)
LENGTH = 12


class WordTokenizer:
    """One token per space-separated word of :data:`WORDS`."""

    def __init__(self, words: Sequence[str] = WORDS) -> None:
        self.words = tuple(words)
        self._ids = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __call__(self, text: str) -> list[int]:
        unknown = [w for w in text.split() if w not in self._ids]
        if unknown:
            raise ValueError(f"the planted sentences have no word {unknown[0]!r}")
        return [self._ids[w] for w in text.split()]

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(self.words[int(i)] for i in ids)


@dataclass(frozen=True)
class PlantedSentences:
    """``ids`` ``(N, LENGTH)``, ``labels`` ``(N,)`` (indices into :data:`PLANTED_CLASSES`)
    and ``evidence`` ``(N,)``, the position of each sentence's evidence word."""

    ids: torch.Tensor
    labels: torch.Tensor
    evidence: torch.Tensor


def planted_sentences(count: int, seed: int) -> PlantedSentences:
    """``count`` sentences drawn with ``seed``: the same every time for the same seed."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, len(FILLER), (count, LENGTH), generator=generator)
    labels = torch.randint(0, len(PLANTED_CLASSES), (count,), generator=generator)
    evidence = torch.randint(0, LENGTH, (count,), generator=generator)
    which = torch.randint(0, len(EVIDENCE[0]), (count,), generator=generator)
    words = torch.tensor([[WORDS.index(w) for w in words] for words in EVIDENCE])
    ids[torch.arange(count), evidence] = words[labels, which]
    return PlantedSentences(ids, labels, evidence)
