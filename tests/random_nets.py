"""Seeded random small networks, each written two ways: as users write rectifiers, and plainly.

:func:`random_net` draws an architecture from a seed: an input of rank 2 to 5 (a table, a
signal, an image, a volume), then blocks of convolutions or linear layers, batch / group /
layer norms, max and average pooling, residual adds, concatenations and modules called
twice, each followed by a rectifier in one of the spellings the engine guide lists
(docs/guides/engine.md: modules, functions, methods, in-place forms, clamps, thresholds,
maxima against zero, ``aten`` operators), sometimes edited in place afterwards. With
``gated=True`` gated activations (GELU, SiLU, Mish, Hardswish and ``x * sigmoid(x)``, in
their spellings) are drawn among them. With ``net.twin = True`` the same network, with the
same parameters, computes the same values with every rectifier written as out-of-place
``F.relu`` / ``F.hardtanh(x, 0, k)`` and every gated call through ``tests.reference.gated``,
the only forms the formula reference (``tests/reference.py``) knows.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tests.reference import gated


@dataclass(frozen=True)
class Spelling:
    """One way of writing a rectifier with ceiling ``upper`` (``None``: a ReLU).

    ``keeps_output``: plain PyTorch keeps the call's output for its backward, so an
    in-place edit of that output afterwards fails with and without the engine.
    """

    name: str
    upper: float | None
    written: Callable[[torch.Tensor], torch.Tensor]
    keeps_output: bool = False
    # A gated call: its site kind and its out-of-place form with the same values.
    gate: str | None = None
    plain: Callable[[torch.Tensor], torch.Tensor] | None = None


def _unassigned(edit):
    """A call whose in-place effect is all that is used: the result is not assigned."""

    def call(h):
        edit(h)
        return h

    return call


SPELLINGS = (
    Spelling("nn.ReLU()", None, lambda h: nn.ReLU()(h), True),
    Spelling("nn.ReLU(inplace=True)", None, lambda h: nn.ReLU(inplace=True)(h), True),
    Spelling("F.relu", None, F.relu, True),
    Spelling("F.relu(inplace=True)", None, lambda h: F.relu(h, inplace=True), True),
    Spelling("torch.relu", None, torch.relu, True),
    Spelling("Tensor.relu", None, lambda h: h.relu(), True),
    Spelling("Tensor.relu_", None, lambda h: h.relu_(), True),
    Spelling("aten.relu.default", None, torch.ops.aten.relu.default, True),
    Spelling("clamp(min=0)", None, lambda h: h.clamp(min=0)),
    Spelling("clamp_(min=0) unassigned", None, _unassigned(lambda h: h.clamp_(min=0))),
    Spelling("clip(min=0.0)", None, lambda h: h.clip(min=0.0)),
    Spelling("torch.clamp_min(h, 0)", None, lambda h: torch.clamp_min(h, 0)),
    Spelling("clamp_min_(0)", None, lambda h: h.clamp_min_(0)),
    Spelling("F.threshold(h, 0, 0)", None, lambda h: F.threshold(h, 0.0, 0.0)),
    Spelling("nn.Threshold(0, 0)", None, lambda h: nn.Threshold(0.0, 0.0)(h)),
    Spelling("F.threshold in place", None, lambda h: F.threshold(h, 0.0, 0.0, inplace=True)),
    Spelling("torch.maximum(h, zeros)", None, lambda h: torch.maximum(h, torch.zeros_like(h))),
    Spelling("torch.max(h, zero)", None, lambda h: torch.max(h, torch.tensor(0.0))),
    Spelling("torch.fmax(zeros, h)", None, lambda h: torch.fmax(torch.zeros_like(h), h)),
    Spelling("nn.ReLU6()", 6.0, lambda h: nn.ReLU6()(h)),
    Spelling("nn.ReLU6(inplace=True)", 6.0, lambda h: nn.ReLU6(inplace=True)(h)),
    Spelling("F.relu6", 6.0, F.relu6),
    Spelling("F.relu6(inplace=True)", 6.0, lambda h: F.relu6(h, inplace=True)),
    Spelling("F.hardtanh(h, 0, 1.5)", 1.5, lambda h: F.hardtanh(h, 0.0, 1.5)),
    Spelling("nn.Hardtanh(0, 2)", 2.0, lambda h: nn.Hardtanh(0.0, 2.0)(h)),
    Spelling("F.hardtanh_(h, 0, 1)", 1.0, lambda h: F.hardtanh_(h, 0.0, 1.0)),
    Spelling("clamp(0, 0.8)", 0.8, lambda h: h.clamp(0.0, 0.8)),
    Spelling("clamp_(0, 6) unassigned", 6.0, _unassigned(lambda h: h.clamp_(0, 6))),
    Spelling("aten.hardtanh.default(0, 3)", 3.0, lambda h: torch.ops.aten.hardtanh(h, 0.0, 3.0)),
)


def _times_own_sigmoid_in_place(h):
    h *= torch.sigmoid(h)
    return h


def _sigmoid_product(h):
    return h * torch.sigmoid(h)


def _gelu_tanh(h):
    return F.gelu(h, approximate="tanh")


def _gated(name, kind, written, plain, in_place=False):
    return Spelling(name, None, written, keeps_output=in_place, gate=kind, plain=plain)


GATED_SPELLINGS = (
    _gated("nn.GELU()", "gelu", lambda h: nn.GELU()(h), F.gelu),
    _gated("nn.GELU('tanh')", "gelu_tanh", lambda h: nn.GELU(approximate="tanh")(h), _gelu_tanh),
    _gated("F.gelu", "gelu", F.gelu, F.gelu),
    _gated(
        "aten.gelu(approximate='tanh')",
        "gelu_tanh",
        lambda h: torch.ops.aten.gelu.default(h, approximate="tanh"),
        _gelu_tanh,
    ),
    _gated("nn.SiLU()", "silu", lambda h: nn.SiLU()(h), F.silu),
    _gated("nn.SiLU(inplace=True)", "silu", lambda h: nn.SiLU(inplace=True)(h), F.silu, True),
    _gated("F.silu(inplace=True)", "silu", lambda h: F.silu(h, inplace=True), F.silu, True),
    _gated("aten.silu_", "silu", torch.ops.aten.silu_.default, F.silu, True),
    _gated("nn.Mish()", "mish", lambda h: nn.Mish()(h), F.mish),
    _gated("F.mish(inplace=True)", "mish", lambda h: F.mish(h, inplace=True), F.mish, True),
    _gated("nn.Hardswish()", "hardswish", lambda h: nn.Hardswish()(h), F.hardswish),
    _gated(
        "F.hardswish(inplace=True)",
        "hardswish",
        lambda h: F.hardswish(h, inplace=True),
        F.hardswish,
        True,
    ),
    _gated("aten.hardswish", "hardswish", torch.ops.aten.hardswish.default, F.hardswish),
    _gated("h * torch.sigmoid(h)", "silu", _sigmoid_product, _sigmoid_product),
    _gated("torch.sigmoid(h) * h", "silu", lambda h: torch.sigmoid(h) * h, _sigmoid_product),
    _gated(
        "torch.mul(h, h.sigmoid())", "silu", lambda h: torch.mul(h, h.sigmoid()), _sigmoid_product
    ),
    _gated("h.mul_(h.sigmoid())", "silu", lambda h: h.mul_(h.sigmoid()), _sigmoid_product, True),
    _gated("h *= torch.sigmoid(h)", "silu", _times_own_sigmoid_in_place, _sigmoid_product, True),
)

EDITS = {
    "mul_": (lambda h: h.mul_(0.5), lambda h: h * 0.5),
    "add_": (lambda h: h.add_(0.25), lambda h: h + 0.25),
}

# Per input rank: the layer that keeps the shape family, its norms and its pooling.
_CONV = {3: nn.Conv1d, 4: nn.Conv2d, 5: nn.Conv3d}
_BATCH_NORM = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}
_POOL = {
    3: (F.max_pool1d, F.avg_pool1d),
    4: (F.max_pool2d, F.avg_pool2d),
    5: (F.max_pool3d, F.avg_pool3d),
}
_SHAPES = {2: (2, 6), 3: (2, 2, 12), 4: (2, 3, 8, 8), 5: (2, 2, 4, 4, 4)}


class RandomNet(nn.Module):
    """Runs ``program`` (steps drawn by :func:`random_net`) over ``layers``."""

    def __init__(self, rank: int, layers: nn.ModuleList, program: list, classes: int) -> None:
        super().__init__()
        self.rank = rank
        self.layers = layers
        self.program = program
        self.twin = False
        self.head = nn.LazyLinear(classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for step, *args in self.program:
            h = getattr(self, f"_{step}")(h, *args)
        if h.dim() > 2:
            h = h.mean(tuple(range(2, h.dim())))
        return self.head(h)

    def _act(self, h, spelling: Spelling, edit: str | None = None):
        if self.twin:
            if spelling.gate:
                h = gated(h, spelling.gate, spelling.plain)
            elif spelling.upper is None:
                h = F.relu(h)
            else:
                h = F.hardtanh(h, 0.0, spelling.upper)
            return EDITS[edit][1](h) if edit else h
        h = spelling.written(h)
        return EDITS[edit][0](h) if edit else h

    def _layer(self, h, index, spelling, edit):
        return self._act(self.layers[index](h), spelling, edit)

    def _pool(self, h, kind, spelling):
        h = _POOL[self.rank][kind](h, 2)
        return h if spelling is None else self._act(h, spelling)

    def _residual(self, h, index, inner, outer):
        return self._act(h + self._act(self.layers[index](h), inner), outer)

    def _concat(self, h, first, second, one, other):
        left = self._act(self.layers[first](h), one)
        return torch.cat([left, self._act(self.layers[second](h), other)], 1)

    def _reuse(self, h, index, inner, outer):
        layer = self.layers[index]
        return self._act(layer(self._act(layer(h), inner)), outer)


def random_net(seed: int, rank: int, gates: bool = False) -> tuple[RandomNet, torch.Tensor]:
    """A network for ``(N, ...)`` inputs of ``rank`` and an input for it, both from ``seed``;
    with ``gates``, gated activations are drawn among the rectifiers."""
    draw = random.Random(seed)
    torch.manual_seed(seed)
    shape = _SHAPES[rank]
    width = shape[1]
    spatial = list(shape[2:])
    layers = nn.ModuleList()
    program: list = []

    def layer(into: int, out: int) -> int:
        if rank == 2:
            layers.append(nn.Linear(into, out))
        else:
            size = draw.choice([1, 3])
            layers.append(_CONV[rank](into, out, size, padding=size // 2))
        return len(layers) - 1

    def spelling() -> Spelling:
        return draw.choice(SPELLINGS + GATED_SPELLINGS if gates else SPELLINGS)

    for _ in range(draw.randint(2, 5)):
        kind = draw.choice(["layer", "layer", "norm", "pool", "residual", "concat", "reuse"])
        if kind == "pool" and (rank == 2 or min(spatial) < 4):
            kind = "layer"
        if kind == "layer":
            out = draw.randint(3, 6)
            chosen = spelling()
            edit = draw.choice([None, None, *EDITS]) if not chosen.keeps_output else None
            program.append(("layer", layer(width, out), chosen, edit))
            width = out
        elif kind == "norm":
            layers.append(_norm(draw, rank, width))
            program.append(("layer", len(layers) - 1, spelling(), None))
        elif kind == "pool":
            program.append(("pool", draw.randrange(2), draw.choice([None, spelling()])))
            spatial = [size // 2 for size in spatial]
        elif kind == "residual":
            program.append(("residual", layer(width, width), spelling(), spelling()))
        elif kind == "concat":
            one, other = layer(width, 3), layer(width, 2)
            program.append(("concat", one, other, spelling(), spelling()))
            width = 5
        else:
            program.append(("reuse", layer(width, width), spelling(), spelling()))
    net = RandomNet(rank, layers, program, classes=4)
    x = torch.randn(shape)
    with torch.no_grad():
        net(x)  # sizes the lazy head
    return net.eval(), x


def _norm(draw: random.Random, rank: int, width: int) -> nn.Module:
    """A norm with non-trivial statistics and affine parameters."""
    if rank == 2:
        choices = [nn.LayerNorm(width), _BATCH_NORM[rank](width)]
    else:
        choices = [_BATCH_NORM[rank](width), nn.GroupNorm(1, width)]
    norm = draw.choice(choices)
    with torch.no_grad():
        if isinstance(norm, nn.modules.batchnorm._BatchNorm):
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 2.0)
        if norm.weight is not None:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    return norm


def describe(net: RandomNet) -> str:
    """The program in words, for a failing test's message."""
    parts = []
    for step, *args in net.program:
        words = [a.name if isinstance(a, Spelling) else repr(a) for a in args]
        parts.append(f"{step}({', '.join(words)})")
    return f"rank {net.rank}: " + " -> ".join(parts)
