"""How ReLU-family calls are spelled, and how one is recognised from its name and arguments.

A rectifier is a value relation, not a name: ``F.relu``, ``relu6``, ``hardtanh(x, 0, k)``,
``clamp(min=0)``, ``threshold(x, 0, 0)`` and ``maximum(x, 0)`` are all one. Torch reports
each call to a function mode by the function object; :func:`function_name` turns that into
one spelling and :func:`parse_call` reads the arguments.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

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
CANDIDATES = frozenset(
    {"relu", "relu6", "hardtanh", "clamp", "clip", "clamp_min", "threshold", "maximum", "max"}
    | {"fmax"}
)


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
    if base not in CANDIDATES or not args or not isinstance(args[0], torch.Tensor):
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


def differentiable(tensor: torch.Tensor) -> bool:
    """Whether a call on ``tensor`` can affect an input gradient (only those make sites)."""
    return tensor.is_floating_point() and tensor.requires_grad and torch.is_grad_enabled()


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
