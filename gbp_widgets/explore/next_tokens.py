"""Next-token scores ``(N, T, V)`` over token ids: a language model's output in the Explorer.

A class is a vocabulary entry. The position explained is the Explorer's ``position``
(``-1``: the last token), and the scores there are the model's prediction of the token that
follows it: explaining class ``t`` at position ``p`` asks why the model scores ``t`` next
after token ``p`` (the engine's :class:`~gbp_widgets.TokenTarget`).
"""

from __future__ import annotations

import numpy as np
import torch

from gbp_widgets.engine import TokenTarget
from gbp_widgets.explore.output_base import OutputKind, State
from gbp_widgets.explore.view import View
from gbp_widgets.pictures.tokens import token_at


class NextTokens(OutputKind):
    """``(N, T, V)`` scores over ``(N, T)`` token ids; the top-5 row lists the tokens most
    likely to follow the position explained, and a click on a token of the input (or of
    its map) explains the prediction that follows it."""

    words = "next-token scores (N, T, V) over token ids"
    lead = "next token: "
    spelled = True

    def __init__(self, raw: object, logits: torch.Tensor | None) -> None:
        super().__init__(raw, logits)
        self._targets: dict[tuple[int, int], TokenTarget] = {}

    @staticmethod
    def fits(raw, logits, ids):
        return (
            ids is not None
            and logits is not None
            and logits.dim() == 3
            and tuple(logits.shape[:2]) == tuple(ids.shape)
        )

    @property
    def length(self) -> int:
        """``T``, the number of tokens."""
        return self.logits.shape[1]

    def at(self, position: int) -> int:
        """``position`` as an index from 0 (``-1``: the last token)."""
        return position % self.length

    def class_count(self) -> int:
        return self.logits.shape[2]

    def probabilities(self, position: int = -1) -> np.ndarray:
        scores = self.logits.detach()[0, self.at(position)].double().cpu()
        return torch.softmax(scores, dim=0).numpy()

    def title(self, classes, threshold, position=-1):
        return f"after token {self.at(position)}, " + super().title(classes, threshold, position)

    def class_target(self, cls: int, position: int = -1) -> TokenTarget:
        """Token ``cls``'s score after token ``position``: one object per pair, a stable
        key for the passes' cache."""
        key = (self.at(position), cls)
        return self._targets.setdefault(key, TokenTarget(*key))

    def output_target(self, state: State) -> TokenTarget:
        return self.class_target(state["target"], state["position"])

    def sanity_target(self, state: State) -> TokenTarget:
        return self.output_target(state)

    def predicted(self, position: int) -> int:
        """The token most likely to follow ``position``."""
        return int(self.logits.detach()[0, self.at(position)].argmax())

    def click(self, panel: str, row: int, column: int, size: int, view: View, photo) -> dict:
        """On the input or its map: the token under the pointer becomes the position
        explained, with the token predicted after it."""
        if panel not in ("input", "attribution"):
            return {}
        token = token_at(row, column, size, self.length)
        if token is None:
            raise ValueError("no token there: click on a token's cell")
        return {"position": token, "target": self.predicted(token), "target_kind": "class"}

    def check_position(self, value: object) -> str:
        """What is wrong with ``value`` as the position explained ("" when nothing is)."""
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            return f"position must be a whole number, not {value!r}"
        if value == -1 or 0 <= value < self.length:
            return ""
        return (
            f"position {value} is past the text, which has {self.length} tokens "
            f"(0 to {self.length - 1}, or -1 for the last)"
        )
