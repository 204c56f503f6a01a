"""Interception of ReLU-family *calls*, whatever module or function makes them.

Every ReLU in a PyTorch model reaches Python's torch API: ``nn.ReLU`` calls
``F.relu``, ``nn.ReLU6`` calls ``F.hardtanh``, and models call ``F.relu``,
``torch.relu``, ``Tensor.relu`` or ``Tensor.relu_`` directly. A
``TorchFunctionMode`` active during the forward pass sees them all, so no
ReLU escapes because of how a model happens to be wired.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable
from torch.overrides import TorchFunctionMode

from gbp_widgets.engine.rules import apply_rule
from gbp_widgets.engine.sites import BackwardState

# Element-wise nonlinearities the three rules say nothing about: seen, reported,
# and backpropagated as plain gradients.
UNCOVERED = frozenset(
    {
        "celu",
        "elu",
        "gelu",
        "glu",
        "hardshrink",
        "hardsigmoid",
        "hardswish",
        "leaky_relu",
        "logsigmoid",
        "mish",
        "prelu",
        "rrelu",
        "selu",
        "sigmoid",
        "silu",
        "softplus",
        "softshrink",
        "softsign",
        "tanh",
        "tanhshrink",
        "threshold",
    }
)


class ReluCall(NamedTuple):
    """A ReLU-family call: its input, upper bound (``None`` for ReLU) and kind."""

    input: torch.Tensor
    kind: str
    upper: float | None
    inplace: bool


def parse_relu_call(name: str, args: tuple, kwargs: dict) -> ReluCall | None:
    """Recognise a ReLU-family call from the torch function's name and arguments.

    Returns ``None`` for anything else, including ``hardtanh`` with a lower
    bound other than 0, which is not a rectifier.
    """
    base = name.rstrip("_")
    inplace = name.endswith("_")
    if base == "relu":
        return ReluCall(args[0], "relu", None, inplace or _arg(args, kwargs, 1, "inplace", False))
    if base == "relu6":
        return ReluCall(args[0], "relu6", 6.0, inplace or _arg(args, kwargs, 1, "inplace", False))
    if base == "hardtanh":
        low = _arg(args, kwargs, 1, "min_val", -1.0)
        high = _arg(args, kwargs, 2, "max_val", 1.0)
        if low != 0 or high <= 0:
            return None
        inplace = inplace or _arg(args, kwargs, 3, "inplace", False)
        return ReluCall(args[0], "relu6" if high == 6 else "hardtanh", float(high), inplace)
    return None


def _arg(args: tuple, kwargs: dict, position: int, keyword: str, default):
    if keyword in kwargs:
        return kwargs[keyword]
    return args[position] if len(args) > position else default


class RuleReLU(torch.autograd.Function):
    """ReLU / clamp(0, k) whose backward applies the rule current at backward time."""

    @staticmethod
    def forward(ctx, x, upper, inplace, state, index):
        if inplace:
            out = x.relu_() if upper is None else x.clamp_(0.0, upper)
            ctx.mark_dirty(x)
        else:
            out = x.relu() if upper is None else x.clamp(0.0, upper)
        ctx.save_for_backward(out)
        ctx.upper, ctx.state, ctx.index = upper, state, index
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        state: BackwardState = ctx.state
        state.observe(ctx.index, grad)
        return apply_rule(state.rule, grad, out, ctx.upper), None, None, None, None


SiteFactory = Callable[[ReluCall], torch.Tensor]
UncoveredSink = Callable[[str], None]


class ReluInterceptor(TorchFunctionMode):
    """Routes ReLU-family calls to ``on_relu`` and reports uncovered ones.

    ``on_relu`` receives the parsed call and returns its output; it is called
    only for floating-point inputs that take part in autograd (others cannot
    affect an input gradient and run unchanged). ``on_uncovered`` receives the
    kind of each uncovered nonlinearity called.
    """

    def __init__(self, on_relu: SiteFactory, on_uncovered: UncoveredSink) -> None:
        super().__init__()
        self._on_relu = on_relu
        self._on_uncovered = on_uncovered

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        call = parse_relu_call(name, args, kwargs) if "relu" in name or "hardtanh" in name else None
        if call is not None and _differentiable(call.input):
            return self._on_relu(call)
        if call is None and (name.rstrip("_") in UNCOVERED or name.startswith("hardtanh")):
            self._on_uncovered(name.rstrip("_"))
        return func(*args, **kwargs)


def _differentiable(tensor: object) -> bool:
    return (
        isinstance(tensor, torch.Tensor)
        and tensor.is_floating_point()
        and tensor.requires_grad
        and torch.is_grad_enabled()
    )
