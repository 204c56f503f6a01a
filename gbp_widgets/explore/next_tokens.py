"""Scores over a vocabulary per token, ``(N, T, V)`` over token ids: a causal language
model's next-token scores, or a masked language model's scores of the token at each
position, in the Explorer.

A class is a vocabulary entry, and the scores at token ``p`` are the model's prediction of
the token that follows it. The output's positions are its tokens, so a region is a set of
tokens: ``Region(t, mask)`` with a bool ``mask`` of shape ``(T,)`` asks why the model
scores ``t`` next after the tokens the mask holds (the engine's
:class:`~gbp_widgets.TokenTarget`, summed over them). With no region chosen, the class is
explained after the last token.

A masked model's scores at token ``p`` are its guess of the token that stands there. The
Explorer reads the scores that way when the tokenizer has a mask token (``mask_token_id``,
as BERT's and RoBERTa's have; causal models' tokenizers have none), and then explains, with
no region chosen, the masked tokens of the text (the last token, in a text with no mask).
"""

from __future__ import annotations

import numpy as np
import torch

from gbp_widgets.engine import Region, TokenTarget
from gbp_widgets.explore.output_base import OutputKind, Tokens
from gbp_widgets.explore.view import View
from gbp_widgets.pictures import drawing
from gbp_widgets.pictures.tokens import token_at, token_box


class NextTokens(OutputKind):
    """``(N, T, V)`` scores over ``(N, T)`` token ids; the top-5 row lists the tokens most
    likely to follow the tokens explained, and a click on a token of the input (or of its
    map) explains the prediction that follows it."""

    words = "next-token scores (N, T, V) over token ids"
    lead = "next token: "
    # Where the token scored stands to the tokens explained, in a title.
    place = "after"
    targets = ("class", "region")
    target_labels = {"class": "last token", "region": "picked"}
    spelled = True

    def __init__(self, raw: object, logits: torch.Tensor | None, tokens: Tokens | None) -> None:
        super().__init__(raw, logits, tokens)
        self._targets: dict[tuple[tuple[int, ...], int], TokenTarget] = {}

    @staticmethod
    def fits(raw, logits, tokens):
        return tokens is not None and tokens.mask is None and per_token(logits, tokens)

    @property
    def length(self) -> int:
        """``T``, the number of tokens."""
        return self.logits.shape[1]

    def positions(self, region: Region | None) -> tuple[int, ...]:
        """The tokens ``region`` holds, from 0 (none chosen: the last one)."""
        if region is None:
            return (self.length - 1,)
        return tuple(int(p) for p in np.flatnonzero(np.asarray(region.mask)))

    def token_region(self, cls: int, token: int) -> Region:
        """``Region(cls, mask)`` of the one token ``token``."""
        mask = np.zeros(self.length, dtype=bool)
        mask[token] = True
        return Region(cls, mask)

    def class_count(self) -> int:
        return self.logits.shape[2]

    def probabilities(self, region: Region | None = None) -> np.ndarray:
        """The softmax of the scores after each of ``region``'s tokens, averaged."""
        scores = self.logits.detach()[0, list(self.positions(region))].double().cpu()
        return torch.softmax(scores, dim=-1).mean(0).numpy()

    def title(self, classes, threshold, chosen=None):
        region = chosen if isinstance(chosen, Region) else None
        where = f"{self.place} {tokens_words(self.positions(region))}, "
        return where + super().title(classes, threshold, region)

    def class_target(self, cls: int, region: Region | None = None) -> TokenTarget:
        """Token ``cls``'s score after ``region``'s tokens (the last, with none): one
        object per pair, a stable key for the passes' cache."""
        positions = self.positions(region)
        key = (positions, cls)
        where = positions[0] if len(positions) == 1 else list(positions)
        return self._targets.setdefault(key, TokenTarget(where, cls))

    def sanity_target(self, state) -> TokenTarget:
        return self.output_target(state)

    def click(self, panel: str, row: int, column: int, size: int, view: View, photo) -> dict:
        """On the input or its map: the token under the pointer becomes the region
        explained, with the model's top token there (the one it predicts to follow, for
        next-token scores)."""
        if panel not in ("input", "attribution"):
            return {}
        token = token_at(row, column, size, self.length)
        if token is None:
            raise ValueError("no token there: click on a token's cell")
        predicted = int(self.logits.detach()[0, token].argmax())
        region = self.token_region(predicted, token)
        return {"region": region, "target": predicted, "target_kind": "region"}

    def marks(self, view: View) -> object:
        return view.chosen

    def on_input(self, picture, view, size, photo):
        """The tokens of the region explained outlined (none, with none picked)."""
        if not isinstance(view.chosen, Region):
            return picture
        for token in self.positions(view.chosen):
            picture = drawing.boxes_on(picture, [token_box(token, size, self.length)], chosen=0)
        return picture

    def check_region(self, value: object) -> str:
        if not isinstance(value, Region) or value.mask is None:
            return "region must be a Region(token, mask) with a bool mask of the text's tokens"
        mask = np.asarray(value.mask)
        if mask.dtype != bool or mask.shape != (self.length,) or not mask.any():
            return (
                f"the region's mask must be a bool array of shape ({self.length},), one per "
                f"token, with at least one on; it has dtype {mask.dtype} and shape {mask.shape}"
            )
        return ""


class MaskedTokens(NextTokens):
    """``(N, T, V)`` scores of the token at each position, from a model whose tokenizer
    has a mask token; with no region chosen, the masked tokens are explained."""

    words = "masked-token scores (N, T, V) over token ids (a tokenizer with a mask token)"
    lead = "token: "
    scored = place = "at"
    target_labels = {"class": "masked", "region": "picked"}

    @staticmethod
    def fits(raw, logits, tokens):
        return tokens is not None and tokens.mask is not None and per_token(logits, tokens)

    def positions(self, region: Region | None) -> tuple[int, ...]:
        if region is not None:
            return super().positions(region)
        masked = torch.nonzero(self.tokens.ids[0] == self.tokens.mask).flatten().tolist()
        return tuple(masked) or (self.length - 1,)


def per_token(logits: torch.Tensor | None, tokens: Tokens) -> bool:
    """Whether ``logits`` are ``(N, T, V)`` scores, a row per token of ``tokens``."""
    return (
        logits is not None
        and logits.dim() == 3
        and tuple(logits.shape[:2]) == tuple(tokens.ids.shape)
    )


def tokens_words(positions: tuple[int, ...]) -> str:
    """``'token 3'`` or ``'tokens 3, 5'``."""
    return f"token{'s' if len(positions) > 1 else ''} {', '.join(map(str, positions))}"
