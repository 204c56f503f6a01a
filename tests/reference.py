"""An oracle independent of the engine: the three rules written straight from the formulas.

A test-only mechanism swaps every ReLU-family entry point of torch for a small
autograd Function while the ``with`` block runs. The Function saves the
*pre-activation* input ``x`` (the engine reads the output instead) and applies
``g * 1[x>0]``, ``g * 1[g>0]`` or both, with ``1[0<x<k]`` for ReLU6 / Hardtanh.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager

import torch
import torch.nn.functional as F

# (pre-activation x, incoming gradient g, upper bound k or None, call number) -> gradient
BackwardRule = Callable[[torch.Tensor, torch.Tensor, "float | None", int], torch.Tensor]


def formula(rule: str) -> BackwardRule:
    def backward(x, g, upper, call):
        forward = (x > 0) if upper is None else (x > 0) & (x < upper)
        if rule == "gradient":
            return g * forward
        if rule == "deconvnet":
            return g * (g > 0)
        return g * forward * (g > 0)

    backward.rule = rule
    return backward


# The gates s(x) of f(x) = x * s(x), written from their definitions.
GATE_FORMULAS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": lambda x: (1.0 + torch.erf(x / math.sqrt(2.0))) / 2.0,
    "gelu_tanh": lambda x: (
        (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3))) / 2.0
    ),
    "silu": lambda x: 1.0 / (1.0 + torch.exp(-x)),
    "mish": lambda x: torch.tanh(torch.log1p(torch.exp(x))),
    "hardswish": lambda x: torch.clamp(x + 3.0, 0.0, 6.0) / 6.0,
    "quick_gelu": lambda x: 1.0 / (1.0 + torch.exp(-1.702 * x)),
}


class _Gated(torch.autograd.Function):
    """A gated call under a rule: the gradient of ``x * s(x)`` by autograd, ``relu(g)``, or
    ``relu(g) * s(x)``. The forward value is the model's own (``plain``), so values agree
    with the engine's and only the rules are compared."""

    @staticmethod
    def forward(ctx, x, kind, plain, rule):
        ctx.save_for_backward(x)
        ctx.kind, ctx.rule = kind, rule
        return plain(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        gate = GATE_FORMULAS[ctx.kind]
        if ctx.rule == "gradient":
            with torch.enable_grad():
                leaf = x.detach().requires_grad_(True)
                (through,) = torch.autograd.grad(leaf * gate(leaf), leaf, g)
        elif ctx.rule == "deconvnet":
            through = g * (g > 0)
        else:
            through = g * (g > 0) * gate(x)
        return through, None, None, None


# The patched run in progress, which a twin's gated calls join.
_ACTIVE: list[Patched] = []


def gated(x: torch.Tensor, kind: str, plain: Callable) -> torch.Tensor:
    """A gated call in a twin network: under a patched run, the reference rule (named by
    the run's :func:`formula`) at it; otherwise just ``plain(x)``."""
    if not _ACTIVE:
        return plain(x)
    seen = _ACTIVE[-1]
    out = _Gated.apply(x, kind, plain, seen.rule.rule)
    seen.outputs.append(out)
    seen.forwards.append(GATE_FORMULAS[kind](x.detach()))
    return out


class _Rectifier(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, upper, inplace, rule, call):
        ctx.x = x.detach().clone()
        ctx.upper, ctx.rule, ctx.call = upper, rule, call
        high = upper if upper is not None else None
        if inplace:
            ctx.mark_dirty(x)
            return x.clamp_(min=0.0, max=high)
        return x.clamp(min=0.0, max=high)

    @staticmethod
    def backward(ctx, g):
        return ctx.rule(ctx.x, g, ctx.upper, ctx.call), None, None, None, None


class Patched:
    """What the patched run saw: the output and forward mask of each rectifier call (and
    gated call of a twin), in order."""

    def __init__(self, rule: BackwardRule) -> None:
        self.rule = rule
        self.outputs: list[torch.Tensor] = []
        self.forwards: list[torch.Tensor] = []

    def rectify(self, x: torch.Tensor, upper: float | None, inplace: bool) -> torch.Tensor:
        forward = (x > 0) if upper is None else (x > 0) & (x < upper)
        out = _Rectifier.apply(x, upper, inplace, self.rule, len(self.outputs))
        self.outputs.append(out)
        self.forwards.append(forward)
        return out


@contextmanager
def patched_rectifiers(rule: BackwardRule):
    """Swap torch's ReLU-family functions for the reference Function."""
    seen = Patched(rule)
    hardtanh = F.hardtanh

    def relu(input, inplace=False):
        return seen.rectify(input, None, inplace)

    def relu_(input):
        return seen.rectify(input, None, True)

    def relu_method(self):
        return seen.rectify(self, None, False)

    def relu6(input, inplace=False):
        return seen.rectify(input, 6.0, inplace)

    def patched_hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
        if min_val == 0 and max_val > 0:
            return seen.rectify(input, float(max_val), inplace)
        return hardtanh(input, min_val, max_val, inplace)

    patches = [
        (F, "relu", relu),
        (F, "relu_", relu_),
        (torch, "relu", relu),
        (torch, "relu_", relu_),
        (torch.Tensor, "relu", relu_method),
        (torch.Tensor, "relu_", relu_),
        (F, "relu6", relu6),
        (F, "hardtanh", patched_hardtanh),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    _ACTIVE.append(seen)
    try:
        for owner, name, replacement in patches:
            setattr(owner, name, replacement)
        yield seen
    finally:
        _ACTIVE.remove(seen)
        for owner, name, original in saved:
            setattr(owner, name, original)


def one_hot(logits: torch.Tensor, classes) -> torch.Tensor:
    seed = torch.zeros_like(logits)
    seed[torch.arange(logits.shape[0]), torch.as_tensor(classes)] = 1.0
    return seed


def reference_attribution(model, x: torch.Tensor, classes, rule: str) -> torch.Tensor:
    """Input gradient of the logits of ``classes`` under ``rule``, by the reference."""
    return backprop_patched(model, x, classes, formula(rule))


def backprop_patched(model, x: torch.Tensor, classes, rule: BackwardRule) -> torch.Tensor:
    """Input gradient of the logits of ``classes`` with ``rule`` at every rectifier call."""
    with patched_rectifiers(rule):
        leaf = x.detach().clone().requires_grad_(True)
        logits = model(leaf.clone())
        (grad,) = torch.autograd.grad(logits, leaf, one_hot(logits, classes))
    return grad


def reference_seeded(model, x: torch.Tensor, seed_of, rule: str) -> torch.Tensor:
    """Input gradient under ``rule`` with ``seed_of(logits)`` as the gradient of the logits."""
    with patched_rectifiers(formula(rule)):
        leaf = x.detach().clone().requires_grad_(True)
        logits = model(leaf.clone())
        (grad,) = torch.autograd.grad(logits, leaf, seed_of(logits.detach()))
    return grad


def reference_from_call(model, x, call: int, seed_of, rule: str) -> torch.Tensor:
    """Input gradient from the output of the ``call``-th rectifier, seeded by ``seed_of(out)``."""
    with patched_rectifiers(formula(rule)) as seen:
        leaf = x.detach().clone().requires_grad_(True)
        model(leaf.clone())
        out = seen.outputs[call]
        (grad,) = torch.autograd.grad(out, leaf, seed_of(out.detach()))
    return grad


def reference_general(
    model, inputs, score_of, rule: str, forward_args=(), forward_kwargs=None
) -> tuple[torch.Tensor, ...]:
    """Gradients of ``score_of(raw output)`` (a scalar) with respect to each tensor of
    ``inputs`` (a tuple), under ``rule`` at every rectifier written with ``F.relu``,
    ``F.relu6`` or ``F.hardtanh`` (and their aliases)."""
    with patched_rectifiers(formula(rule)):
        leaves = tuple(t.detach().clone().requires_grad_(True) for t in inputs)
        raw = model(*(leaf.clone() for leaf in leaves), *forward_args, **(forward_kwargs or {}))
        return torch.autograd.grad(score_of(raw), leaves, allow_unused=True)


def reference_masks(model, inputs, score_of, rule: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(forward, backward)`` masks at every rectifier (and twin's gated) call, in call
    order, under ``rule``: ``1[x>0]`` (``1[0<x<k]``; the gate ``s(x)`` at a gated call)
    and ``1[g>0]`` for the gradient ``g`` of ``score_of(raw output)`` arriving at the
    call's output."""
    return [
        (forward, grad > 0) for forward, grad in reference_site_grads(model, inputs, score_of, rule)
    ]


def reference_site_grads(
    model, inputs, score_of, rule: str
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(forward mask, gradient g at the output)`` at every call, as :func:`reference_masks`
    (``g`` is zeros where no gradient arrived)."""
    with patched_rectifiers(formula(rule)) as seen:
        leaves = tuple(t.detach().clone().requires_grad_(True) for t in inputs)
        score = score_of(model(*(leaf.clone() for leaf in leaves)))
        grads = torch.autograd.grad(score, seen.outputs, allow_unused=True)
    return [
        (forward, torch.zeros_like(out) if grad is None else grad)
        for out, forward, grad in zip(seen.outputs, seen.forwards, grads, strict=True)
    ]


@contextmanager
def patched_gates():
    """Route torch's GELU, SiLU, Mish and Hardswish functions through :func:`gated`, for
    library models that cannot be twinned; used inside :func:`patched_rectifiers` (as by
    :func:`reference_general`), their calls get the reference rule. In-place calls are
    made out of place, with the same values."""
    originals = {name: getattr(F, name) for name in ("gelu", "silu", "mish", "hardswish")}

    def gelu(input, approximate="none"):
        kind = "gelu" if approximate == "none" else "gelu_tanh"
        return gated(input, kind, lambda x: originals["gelu"](x, approximate=approximate))

    def one_of(kind):
        return lambda input, inplace=False: gated(input, kind, originals[kind])

    replacements = {"gelu": gelu, **{kind: one_of(kind) for kind in ("silu", "mish", "hardswish")}}
    try:
        for name, replacement in replacements.items():
            setattr(F, name, replacement)
        yield
    finally:
        for name, original in originals.items():
            setattr(F, name, original)
