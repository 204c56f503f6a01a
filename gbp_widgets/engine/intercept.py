"""Interception of ReLU-family *calls*, whatever module or function makes them.

Every ReLU in a PyTorch model reaches Python's torch API: ``nn.ReLU`` calls
``F.relu``, ``nn.ReLU6`` calls ``F.hardtanh``, and models call ``F.relu``,
``torch.relu``, ``Tensor.relu_``, ``clamp(min=0)``, ``F.threshold(x, 0, 0)``,
``torch.maximum(x, 0)`` or, in exported programs, ``torch.ops.aten.relu.default``.
A ``TorchFunctionMode`` active during the forward pass sees them all, so no
ReLU escapes because of how a model happens to be written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable
from torch.overrides import TorchFunctionMode

from gbp_widgets.engine.gated import (
    GATED_FUNCTIONS,
    PRODUCTS,
    GatedCall,
    RuleGate,
    WrittenOut,
    parse_gated,
)
from gbp_widgets.engine.recurrent import FUSED_RELU, FUSED_UNCOVERED, unrolled
from gbp_widgets.engine.rules import apply_rule, forward_mask
from gbp_widgets.engine.sites import BackwardState

# Element-wise nonlinearities the three rules say nothing about: seen, reported,
# and backpropagated as plain gradients. Spelled as torch reports them to a
# function mode (``F.logsigmoid`` arrives as ``log_sigmoid``), after
# :func:`function_name`'s normalisation.
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
        "log_sigmoid",
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
    }
)

# Functions that may be a rectifier, depending on their arguments.
_CANDIDATES = frozenset(
    {"relu", "relu6", "hardtanh", "clamp", "clip", "clamp_min", "threshold", "maximum", "max"}
    | {"fmax"}
)


_WATCHED = _CANDIDATES | UNCOVERED | FUSED_RELU | FUSED_UNCOVERED.keys()
# With gates, a sigmoid may be half of ``x * sigmoid(x)``, completed by a product.
_WRITTEN_OUT = PRODUCTS | {"sigmoid"}


class ReluCall(NamedTuple):
    """A ReLU-family call.

    ``kind`` is ``"relu"``, ``"relu6"`` or ``"hardtanh"``; ``upper`` the upper
    bound ``k`` of ``clamp(x, 0, k)`` (``None`` for ReLU). ``saves_output``:
    whether plain PyTorch keeps the output (``relu``, in-place calls) or the
    input (``hardtanh``, ``clamp``, ``threshold``, ``maximum``) for its backward,
    which decides which later in-place edits it tolerates.
    """

    input: torch.Tensor
    kind: str
    upper: float | None
    inplace: bool
    saves_output: bool


class Uncovered(NamedTuple):
    """A call the rules do not cover, to be reported under ``kind``."""

    kind: str


_NAMES: dict[object, str] = {}


def function_name(func: object) -> str:
    """The torch function's name as a mode sees it, normalised.

    ``aten`` overloads (``torch.ops.aten.relu_.default``) give their operator
    name (``relu_``); a leading underscore (``F.threshold`` arrives as
    ``_threshold``) is dropped, and so are an operator's (``Tensor.__mul__`` is
    ``mul``, ``__imul__`` is ``imul``). A trailing underscore marks an in-place call.
    """
    try:
        return _NAMES[func]
    except (KeyError, TypeError):
        pass
    schema = getattr(func, "_schema", None)
    if schema is not None:
        name = schema.name.split("::")[-1]
    elif hasattr(func, "_qualified_op_name"):
        name = func._qualified_op_name.split("::")[-1]
    else:
        name = getattr(func, "__name__", "")
    name = name[2:-2] if name.startswith("__") and name.endswith("__") else name.lstrip("_")
    try:
        _NAMES[func] = name
    except TypeError:
        pass
    return name


def parse_call(name: str, args: tuple, kwargs: dict) -> ReluCall | Uncovered | None:
    """Recognise a ReLU-family call from its normalised name and arguments.

    Returns a :class:`ReluCall` for a rectifier, :class:`Uncovered` for a
    nonlinearity the rules do not cover (a ``hardtanh`` or ``threshold`` that is
    not a rectifier among them), and ``None`` for anything else.
    """
    base = name.rstrip("_")
    inplace = name.endswith("_") or bool(kwargs.get("inplace", False))
    if base in UNCOVERED:
        return Uncovered(base)
    if base not in _CANDIDATES or not args or not isinstance(args[0], torch.Tensor):
        return None
    if "out" in kwargs:
        return None
    return _PARSERS[base](args, kwargs, inplace)


def _relu(args, kwargs, inplace):
    return ReluCall(args[0], "relu", None, inplace or _arg(args, kwargs, 1, "inplace", False), True)


def _relu6(args, kwargs, inplace):
    inplace = inplace or _arg(args, kwargs, 1, "inplace", False)
    return ReluCall(args[0], "relu6", 6.0, inplace, False)


def _hardtanh(args, kwargs, inplace):
    low = _arg(args, kwargs, 1, "min_val", -1.0)
    high = _arg(args, kwargs, 2, "max_val", 1.0)
    inplace = inplace or _arg(args, kwargs, 3, "inplace", False)
    return _bounded(args[0], low, high, inplace) or Uncovered("hardtanh")


def _clamp(args, kwargs, inplace):
    low = _arg(args, kwargs, 1, "min", None)
    high = _arg(args, kwargs, 2, "max", None)
    return _bounded(args[0], low, high, inplace)


def _clamp_min(args, kwargs, inplace):
    return _bounded(args[0], _arg(args, kwargs, 1, "min", None), None, inplace)


def _threshold(args, kwargs, inplace):
    threshold = _arg(args, kwargs, 1, "threshold", None)
    value = _arg(args, kwargs, 2, "value", None)
    inplace = inplace or _arg(args, kwargs, 3, "inplace", False)
    if _is_number(threshold) and threshold == 0 and _is_number(value) and value == 0:
        return ReluCall(args[0], "relu", None, inplace, False)
    return Uncovered("threshold")


def _maximum(args, kwargs, inplace):
    """``maximum(x, zeros)`` in either order; ``torch.max(x, dim)`` is a reduction."""
    other = _arg(args, kwargs, 1, "other", None)
    if not isinstance(other, torch.Tensor):
        return None
    for x, zero in ((args[0], other), (other, args[0])):
        if _is_constant_zero(zero):
            if _broadcasts_into(zero, x):
                return ReluCall(x, "relu", None, False, False)
            return Uncovered("maximum")
    return None


_PARSERS = {
    "relu": _relu,
    "relu6": _relu6,
    "hardtanh": _hardtanh,
    "clamp": _clamp,
    "clip": _clamp,
    "clamp_min": _clamp_min,
    "threshold": _threshold,
    "maximum": _maximum,
    "max": _maximum,
    "fmax": _maximum,
}


def _bounded(x: torch.Tensor, low, high, inplace: bool) -> ReluCall | None:
    """``clamp(x, low, high)`` as a rectifier when ``low`` is 0 and ``high`` is none or > 0."""
    if not (_is_number(low) and low == 0) and not (
        isinstance(low, torch.Tensor) and _is_constant_zero(low) and _broadcasts_into(low, x)
    ):
        return None
    if high is None:
        return ReluCall(x, "relu", None, inplace, False)
    if not _is_number(high) or high <= 0:
        return None
    kind = "relu6" if high == 6 else "hardtanh"
    return ReluCall(x, kind, float(high), inplace, False)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_constant_zero(value: torch.Tensor) -> bool:
    # A tensor that takes part in autograd is a second variable, not a bound.
    return not value.requires_grad and value.numel() > 0 and not bool(value.any())


def _broadcasts_into(zero: torch.Tensor, x: torch.Tensor) -> bool:
    """Whether ``max(x, zero)`` has ``x``'s own shape and dtype."""
    try:
        shape = torch.broadcast_shapes(zero.shape, x.shape)
    except RuntimeError:
        return False
    return shape == x.shape and torch.result_type(x, zero) == x.dtype


def _arg(args: tuple, kwargs: dict, position: int, keyword: str, default):
    if keyword in kwargs:
        return kwargs[keyword]
    return args[position] if len(args) > position else default


class RuleReLU(torch.autograd.Function):
    """ReLU / clamp(0, k) whose backward applies the rule current at backward time.

    Code that edits a tensor in place after the call runs exactly when it runs
    without the engine: like plain PyTorch, it saves the output of ``relu`` and
    ``relu_`` (whose backward breaks when the output is edited later) and the
    input of other out-of-place calls; the other in-place calls (``clamp_``,
    ``hardtanh_``, ``threshold_``, ``relu6(inplace=True)``) keep their forward
    mask, which no later edit of the output or its base can touch.
    """

    @staticmethod
    def forward(ctx, x, upper, inplace, saves_output, state, index):
        if inplace:
            out = x.relu_() if upper is None else x.clamp_(0.0, upper)
            ctx.mark_dirty(x)
        else:
            out = x.relu() if upper is None else x.clamp(0.0, upper)
        # Each gives the forward mask: x>0 exactly when y>0, 0<x<k exactly when 0<y<k.
        if saves_output:
            ctx.save_for_backward(out)
        elif inplace:
            ctx.save_for_backward(forward_mask(out, upper))
        else:
            ctx.save_for_backward(x)
        ctx.upper, ctx.state, ctx.index = upper, state, index
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (saved,) = ctx.saved_tensors
        state: BackwardState = ctx.state
        state.observe(ctx.index, grad)
        return apply_rule(state.rule, grad, saved, ctx.upper), None, None, None, None, None


SiteFactory = Callable[[ReluCall], torch.Tensor]
# Receives a gated call and, for ``x * sigmoid(x)`` written out, the sigmoid's report to
# withdraw (its name becomes the site's).
GatedFactory = Callable[[GatedCall, object], torch.Tensor]
# Records an uncovered call's kind and returns the report it made.
UncoveredSink = Callable[[str], object]


class ReluInterceptor(TorchFunctionMode):
    """Routes ReLU-family calls to ``on_relu`` and reports uncovered ones.

    ``on_relu`` receives the parsed call and returns its output; it is called
    only for floating-point inputs that take part in autograd (others cannot
    affect an input gradient and run unchanged). ``on_uncovered`` receives the
    kind of each uncovered nonlinearity called, and of rectifiers inside a
    custom ``autograd.Function``, whose own backward decides their gradient.
    With ``on_gated`` (``activations="gated"``), gated calls (GELU, SiLU, Mish,
    Hardswish, ``x * sigmoid(x)``) go to it instead of being reported.
    """

    def __init__(
        self,
        on_relu: SiteFactory,
        on_uncovered: UncoveredSink,
        on_gated: GatedFactory | None = None,
    ) -> None:
        super().__init__()
        self._on_relu = on_relu
        self._on_uncovered = on_uncovered
        self._on_gated = on_gated
        self._written = WrittenOut() if on_gated else None
        self._watched = _WATCHED | PRODUCTS if on_gated else _WATCHED

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = function_name(func)
        base = name.rstrip("_")
        # Most calls (convolutions, adds, views) are none of ours: one set look-up.
        if base not in self._watched:
            return func(*args, **kwargs)
        if self._written is not None and (base in GATED_FUNCTIONS or base in _WRITTEN_OUT):
            made = self._gated(func, name, base, args, kwargs)
            if made is not None:
                return made
        if name in FUSED_RELU and torch.is_grad_enabled():
            return unrolled(name, args, kwargs, self._rectify)
        if name in FUSED_UNCOVERED and torch.is_grad_enabled():
            self._on_uncovered(FUSED_UNCOVERED[name])
        call = parse_call(name, args, kwargs)
        if isinstance(call, ReluCall):
            if _differentiable(call.input):
                return self._on_relu(call)
            self._report_hidden(call.kind)
        elif isinstance(call, Uncovered):
            if torch.is_grad_enabled():
                self._on_uncovered(call.kind)
            else:
                self._report_hidden(call.kind)
        return func(*args, **kwargs)

    def _gated(self, func, name: str, base: str, args: tuple, kwargs: dict):
        """The output of a gated call made a site, or ``None`` to go on as without gates."""
        inplace = name.endswith("_") or base == "imul"
        if base in GATED_FUNCTIONS:
            call = parse_gated(base, func, args, kwargs, inplace)
            if call is None:
                return None
            if _differentiable(call.input):
                return self._on_gated(call, None)
            self._report_hidden(call.gate.kind)
            return func(*args, **kwargs)
        if base == "sigmoid":
            if inplace or not args or not _differentiable(args[0]) or len(args) > 1 or kwargs:
                return None
            out = func(*args, **kwargs)
            self._written.saw_sigmoid(args[0], out, self._on_uncovered("sigmoid"))
            return out
        found = self._written.product(func, args, kwargs, inplace)
        if found is None or not _differentiable(found[0].input):
            return func(*args, **kwargs)
        return self._on_gated(*found)

    def _rectify(self, x: torch.Tensor) -> torch.Tensor:
        """One ReLU of a fused recurrent kernel written out step by step."""
        if _differentiable(x):
            return self._on_relu(ReluCall(x, "relu", None, False, True))
        return x.relu()

    def _report_hidden(self, kind: str) -> None:
        """Report a call whose gradient a custom autograd Function's backward decides."""
        if _inside_custom_function():
            self._on_uncovered(f"{kind} in autograd.Function")


def _inside_custom_function() -> bool:
    """Whether the caller is the ``forward(ctx, ...)`` of a user's custom autograd Function.

    The engine's own :class:`RuleReLU` is not one: an explain running inside another
    (from a forward hook) makes its rectifier calls under the outer explain's mode.
    """
    frame = sys._getframe(2)
    for _ in range(32):
        if frame is None:
            return False
        code = frame.f_code
        if code.co_name == "forward" and code.co_varnames[:1] == ("ctx",):
            return code not in _ENGINE_FUNCTIONS
        frame = frame.f_back
    return False


_ENGINE_FUNCTIONS = (RuleReLU.forward.__code__, RuleGate.forward.__code__)


def _differentiable(tensor: torch.Tensor) -> bool:
    return tensor.is_floating_point() and tensor.requires_grad and torch.is_grad_enabled()
