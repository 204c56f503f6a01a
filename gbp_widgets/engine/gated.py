"""Gated activations ``f(x) = x * s(x)`` and the rules at them (``activations="gated"``).

GELU, SiLU, Mish and Hardswish multiply their input by a *gate* ``s(x)`` in ``[0, 1]``; a
ReLU is the same with the gate ``1[x>0]``. Taking the gate as the smooth counterpart of
ReLU's forward mask extends the rules: guided passes ``relu(g) * s(x)`` (at a ReLU this is
``relu(g) * 1[x>0]``, the published rule), deconvnet ``relu(g)``, and gradient stays the
exact gradient ``g * f'(x)``. This extension is ours, not the published method; it echoes
the detached gates of Ali et al. (ICML 2022). It is used only when asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from gbp_widgets.engine.sites import BackwardState

ACTIVATIONS: tuple[str, ...] = ("relu", "gated")
GATED = ACTIVATIONS[1]


def check_activations(activations: object) -> str:
    """Return ``activations`` if it is one of :data:`ACTIVATIONS`, else raise ``ValueError``."""
    if activations not in ACTIVATIONS:
        raise ValueError(
            f"unknown activations {activations!r}: use 'relu' (ReLU-family calls only, the "
            "published method) or 'gated' (also GELU, SiLU, Mish and Hardswish, with the gate "
            "s(x) as a soft forward mask: our extension)"
        )
    return activations  # type: ignore[return-value]


@dataclass(frozen=True)
class Gate:
    """One gated activation: the site ``kind``, its gate's value at ``x = 0``, the activation
    itself and its exact gradient ``g * f'(x)`` with autograd's own kernel."""

    kind: str
    at_zero: float
    activation: Callable[[torch.Tensor], torch.Tensor]
    gradient: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def from_output(self, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``s(x)`` read off the call's own output as ``f(x) / x`` (``at_zero`` where ``x``
        is 0): two cheap kernels where computing the gate afresh costs several (``erf``,
        ``tanh``), and the gate that made the output, to rounding."""
        return (output.detach() / x.detach()).nan_to_num_(nan=self.at_zero)


_ATEN = torch.ops.aten


def _quick_gelu_gradient(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(1.702 * x)
    return g * (s + 1.702 * x * s * (1.0 - s))


GATES: dict[str, Gate] = {
    gate.kind: gate
    for gate in (
        # The gates: Phi(x), the standard normal CDF, for GELU; 0.5 (1 + tanh(sqrt(2/pi)
        # (x + 0.044715 x^3))) for its tanh form; sigmoid(x) for SiLU; tanh(softplus(x))
        # for Mish; relu6(x + 3) / 6 for Hardswish.
        Gate("gelu", 0.5, F.gelu, lambda g, x: _ATEN.gelu_backward(g, x)),
        Gate(
            "gelu_tanh",
            0.5,
            lambda x: F.gelu(x, approximate="tanh"),
            lambda g, x: _ATEN.gelu_backward(g, x, approximate="tanh"),
        ),
        Gate("silu", 0.5, F.silu, _ATEN.silu_backward),
        Gate("mish", math.tanh(math.log(2.0)), F.mish, _ATEN.mish_backward),
        Gate("hardswish", 0.5, F.hardswish, _ATEN.hardswish_backward),
        # QuickGELU (CLIP's): sigmoid(1.702 x). No library call makes it, so it is a site
        # only where a module is proved to compute it (engine/gate_modules.py).
        Gate("quick_gelu", 0.5, lambda x: x * torch.sigmoid(1.702 * x), _quick_gelu_gradient),
    )
}

# The function names (as :func:`gbp_widgets.engine.spellings.function_name` gives them,
# without a trailing underscore) that make a gated call, and the multiplications that may
# write one out as ``x * sigmoid(x)``.
GATED_FUNCTIONS = frozenset({"gelu", "silu", "mish", "hardswish"})
PRODUCTS = frozenset({"mul", "rmul", "imul"})


class GatedCall(NamedTuple):
    """A call ``f(x) = x * s(x)``: its input, its :class:`Gate`, whether it writes into
    ``x``, how to make its output as the model asked (``run``), and for ``x * sigmoid(x)``
    written out, the sigmoid's output (so the gradient rule is autograd's own, bit for bit)."""

    input: torch.Tensor
    gate: Gate
    inplace: bool
    run: Callable[[], torch.Tensor]
    sigmoid: torch.Tensor | None = None


def parse_gated(base: str, func, args: tuple, kwargs: dict, inplace: bool) -> GatedCall | None:
    """A gated call from a function's normalised name ``base`` (no trailing underscore), or
    ``None`` when its arguments are not what the gate table knows."""
    if not args or not isinstance(args[0], torch.Tensor) or "out" in kwargs:
        return None
    if base == "gelu":
        approximate = kwargs.get("approximate", args[1] if len(args) > 1 else "none")
        kind = {"none": "gelu", "tanh": "gelu_tanh"}.get(approximate)
    else:
        kind = base
        positional = args[1] if len(args) > 1 and isinstance(args[1], bool) else False
        inplace = inplace or bool(kwargs.get("inplace", positional))
    if kind is None:
        return None
    return GatedCall(args[0], GATES[kind], inplace, lambda: func(*args, **kwargs))


class WrittenOut:
    """Finds ``x * sigmoid(x)`` written out: a product of a tensor and its own sigmoid.

    A sigmoid is reported as not guided when it is called; if a product then multiplies
    its output by its own input, that product is a SiLU site and the report is withdrawn.
    A product of anything else (a squeeze-excite gate, an attention weight) is left alone.
    """

    def __init__(self) -> None:
        self._sigmoids: dict[int, tuple[torch.Tensor, torch.Tensor, object, tuple[int, int]]] = {}

    def saw_sigmoid(self, x: torch.Tensor, out: torch.Tensor, report: object) -> None:
        self._sigmoids[id(out)] = (out, x, report, (x._version, out._version))

    def product(self, func, args: tuple, kwargs: dict, inplace: bool):
        """``(GatedCall, the sigmoid's report)`` when ``args`` are ``x`` and ``sigmoid(x)``,
        neither edited in place since the sigmoid was taken."""
        if len(args) != 2 or kwargs or not self._sigmoids:
            return None
        for x, other in (args, args[::-1]):
            seen = self._sigmoids.get(id(other))
            if seen is None or seen[0] is not other or seen[1] is not x:
                continue
            if seen[3] != (x._version, other._version):
                return None
            if inplace and x is not args[0]:
                return None  # sigmoid(x).mul_(x) writes into the gate, not a gated call
            del self._sigmoids[id(other)]
            call = GatedCall(x, GATES["silu"], inplace, lambda: func(*args, **kwargs), other)
            return call, seen[2]
        return None


class RuleGate(torch.autograd.Function):
    """A gated call whose backward applies the rule current at backward time.

    The output is made by the model's own call (in-place ones included), so values are
    those of plain PyTorch. The input is kept (a copy when the call overwrites it), and
    the gate, read off the output (or the sigmoid of ``x * sigmoid(x)``), which is
    appended to ``gates`` for the masks.
    """

    @staticmethod
    def forward(ctx, x, sigmoid, call: GatedCall, state: BackwardState, index: int, gates: list):
        if call.inplace:
            kept = x.clone()
            out = call.run()
            ctx.mark_dirty(x)
        else:
            kept, out = x, call.run()
        gate = call.gate.from_output(out, kept) if sigmoid is None else sigmoid.detach()
        gates.append(gate)
        ctx.save_for_backward(kept, sigmoid)
        ctx.gate, ctx.gate_values, ctx.state, ctx.index = call.gate, gate, state, index
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, sigmoid = ctx.saved_tensors
        state: BackwardState = ctx.state
        state.observe(ctx.index, grad)
        rest = (None, None, None, None)
        ruled = state.rule.at_gate(grad, ctx.gate_values)
        if ruled is not None:
            return ruled, None, *rest
        if sigmoid is not None:
            # What autograd does at x * sigmoid(x): the sigmoid's own backward follows.
            return grad * sigmoid, grad * x, *rest
        return ctx.gate.gradient(grad, x), None, *rest
