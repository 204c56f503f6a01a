"""Targets in a sequence output ``(N, T, V)``: a vocabulary entry's score at chosen positions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True, eq=False)
class TokenTarget:
    """Vocabulary entry ``token``'s score at ``position`` of a sequence output ``(N, T, V)``.

    A causal language model's scores at position ``p`` are its prediction of the token
    that follows ``p``, so ``TokenTarget(p)`` asks why the model predicted what it did
    after token ``p``.

    ``position``: ``None`` for each item's last position that the ``attention_mask``
    keeps (the last one without a mask: the next-token prediction, the default for a
    language model given token ids); an int (negative counts from the end); a sequence
    of ints, a span whose scores are summed; or a bool tensor ``(T,)`` or ``(N, T)`` of
    the positions to sum, e.g. ``ids == tokenizer.mask_token_id`` for a masked model.
    ``token``: ``None`` for the entry the model scores highest at each position, or a
    vocabulary index used at every chosen position.

    In :attr:`Explanation.target` the resolved target is again a ``TokenTarget``, with
    ``position`` a ``(N, T)`` bool tensor of the positions explained and ``token`` a
    ``(N, T)`` long tensor of the entry explained at each (``-1`` elsewhere).
    """

    position: int | Sequence[int] | torch.Tensor | None = None
    token: int | torch.Tensor | None = None

    def items(self, chosen: slice) -> TokenTarget:
        """The target for the items ``chosen`` of a batch explained in chunks."""
        position, token = self.position, self.token
        if isinstance(position, torch.Tensor) and position.dim() == 2:
            position = position[chosen]
        if isinstance(token, torch.Tensor) and token.dim() == 2:
            token = token[chosen]
        return TokenTarget(position, token)


def is_sequence_output(scores: torch.Tensor, ids: torch.Tensor | None) -> bool:
    """Whether ``scores`` is ``(N, T, V)`` over the token ids ``(N, T)`` given."""
    return ids is not None and scores.dim() == 3 and tuple(scores.shape[:2]) == tuple(ids.shape)


def token_seed(
    target: TokenTarget, scores: torch.Tensor, last: torch.Tensor | None
) -> tuple[torch.Tensor, TokenTarget]:
    """Seed 1 at the chosen entry of each chosen position of ``scores`` ``(N, T, V)``, and
    the target as resolved. ``last``: each item's last kept position ``(N,)``, for
    ``position=None`` (``None`` when the inputs were not ids: then the last position)."""
    if scores.dim() != 3:
        raise ValueError(
            f"a TokenTarget needs a sequence output (N, T, V); the chosen output has shape "
            f"{tuple(scores.shape)}. For a classifier give the class index instead"
        )
    n, length, vocabulary = scores.shape
    chosen = _positions(target.position, n, length, last, scores.device)
    tokens = _tokens(target.token, scores.detach(), vocabulary)
    if bool((tokens[chosen] < 0).any()):
        raise ValueError("TokenTarget.token is -1 (no entry) at a position it explains")
    tokens = torch.where(chosen, tokens, torch.full_like(tokens, -1))
    seed = torch.zeros_like(scores)
    items, places = chosen.nonzero(as_tuple=True)
    seed[items, places, tokens[items, places]] = 1.0
    return seed, TokenTarget(chosen, tokens)


def _positions(
    position: object, n: int, length: int, last: torch.Tensor | None, device: torch.device
) -> torch.Tensor:
    chosen = torch.zeros(n, length, dtype=torch.bool, device=device)
    items = torch.arange(n, device=device)
    if position is None:
        ends = torch.full((n,), length - 1, device=device) if last is None else last.to(device)
        chosen[items, ends] = True
        return chosen
    if isinstance(position, torch.Tensor) and position.dtype == torch.bool:
        if tuple(position.shape) not in ((length,), (n, length)):
            raise ValueError(
                f"TokenTarget.position as a mask has shape {tuple(position.shape)}; give one "
                f"flag per position, ({length},) or ({n}, {length})"
            )
        chosen |= position.to(device)
        if not bool(chosen.any(dim=1).all()):
            raise ValueError("TokenTarget.position selects no position for some item")
        return chosen
    places = [position] if isinstance(position, int) else position
    try:
        places = [int(p) for p in places]  # type: ignore[union-attr]
    except (TypeError, ValueError) as err:
        raise TypeError(
            "TokenTarget.position must be None, an int, a sequence of ints or a bool mask; "
            f"got {position!r}"
        ) from err
    if isinstance(position, bool) or not places:
        raise TypeError(f"TokenTarget.position must name at least one position; got {position!r}")
    for place in places:
        if not -length <= place < length:
            raise ValueError(
                f"position {place} is past the sequence, which has {length} tokens "
                f"(positions 0 to {length - 1}, or -1 for the last)"
            )
        chosen[:, place % length] = True
    return chosen


def _tokens(token: object, scores: torch.Tensor, vocabulary: int) -> torch.Tensor:
    n, length, _ = scores.shape
    if token is None:
        return scores.argmax(dim=2)
    if isinstance(token, torch.Tensor) and token.dim() == 2 and not token.is_floating_point():
        given = token.to(scores.device, torch.long)
    elif isinstance(token, int) and not isinstance(token, bool):
        given = torch.full((n, length), token, dtype=torch.long, device=scores.device)
    else:
        raise TypeError(f"TokenTarget.token must be None or a vocabulary index; got {token!r}")
    outside = given[(given < -1) | (given >= vocabulary)]
    if outside.numel():
        raise ValueError(
            f"token {int(outside[0])} is outside the vocabulary of {vocabulary} entries "
            f"(0 to {vocabulary - 1})"
        )
    return given
