"""A small transformer over token ids: a causal language model or a sequence classifier."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class _Attention(nn.Module):
    def __init__(self, width: int, heads: int, causal: bool) -> None:
        super().__init__()
        self.heads, self.causal = heads, causal
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        n, length, width = h.shape
        q, k, v = self.qkv(h).view(n, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        allowed = torch.ones(length, length, dtype=torch.bool, device=h.device)
        if self.causal:
            allowed = allowed.tril()
        allowed = allowed.expand(n, 1, length, length)
        if keep is not None:
            allowed = allowed & keep[:, None, None, :].bool()
            # A query with nothing to attend to (a padded position of a causal model) looks
            # at itself, so its softmax stays finite; its output is never read.
            allowed = allowed | torch.eye(length, dtype=torch.bool, device=h.device)
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
        return self.out((weights @ v).transpose(1, 2).reshape(n, length, width))


class _Block(nn.Module):
    def __init__(self, width: int, heads: int, causal: bool) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attention = _Attention(width, heads, causal)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, h: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        h = h + self.attention(self.norm1(h), keep)
        return h + self.mlp(self.norm2(h))


class TinyTransformer(nn.Module):
    """Token ids ``(N, T)`` in; next-token scores ``(N, T, V)`` (``classes=None``, causal)
    or class scores ``(N, classes)`` (the mean of the last layer over the kept positions).

    ``vocabulary`` ids, at most ``context`` positions, ``layers`` blocks of pre-norm
    attention and a GELU MLP (``4 * width`` units: the sites the Explorer shows per token).
    ``attention_mask`` ``(N, T)`` (1 keep, 0 padding) may be passed as in Hugging Face.
    """

    def __init__(
        self,
        vocabulary: int,
        context: int = 64,
        width: int = 64,
        layers: int = 2,
        heads: int = 4,
        classes: int | None = None,
    ) -> None:
        super().__init__()
        self.config = dict(
            vocabulary=vocabulary,
            context=context,
            width=width,
            layers=layers,
            heads=heads,
            classes=classes,
        )
        self.context = context
        self.tokens = nn.Embedding(vocabulary, width)
        self.positions = nn.Embedding(context, width)
        causal = classes is None
        self.blocks = nn.ModuleList(_Block(width, heads, causal) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocabulary if causal else classes)

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        length = ids.shape[1]
        if length > self.context:
            raise ValueError(
                f"the text has {length} tokens, more than the model's context of "
                f"{self.context}: shorten it to its last {self.context} tokens"
            )
        h = self.tokens(ids) + self.positions(torch.arange(length, device=ids.device))
        for block in self.blocks:
            h = block(h, attention_mask)
        h = self.norm(h)
        if self.config["classes"] is None:
            return self.head(h)
        keep = torch.ones_like(h[..., 0]) if attention_mask is None else attention_mask.to(h.dtype)
        pooled = (h * keep[..., None]).sum(dim=1) / keep.sum(dim=1, keepdim=True)
        return self.head(pooled)


def next_token_loss(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats) of predicting each of ``ids[:, 1:]`` from those before."""
    scores = model(ids[:, :-1])
    return F.cross_entropy(scores.reshape(-1, scores.shape[-1]), ids[:, 1:].reshape(-1))
