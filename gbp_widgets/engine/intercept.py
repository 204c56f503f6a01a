"""Interception of ReLU-family *calls*, whatever module or function makes them.

Every ReLU in a PyTorch model reaches Python's torch API: ``nn.ReLU`` calls
``F.relu``, ``nn.ReLU6`` calls ``F.hardtanh``, and models call ``F.relu``,
``torch.relu``, ``Tensor.relu_``, ``clamp(min=0)``, ``F.threshold(x, 0, 0)``,
``torch.maximum(x, 0)`` or, in exported programs, ``torch.ops.aten.relu.default``.
A ``TorchFunctionMode`` active during the forward pass sees them all, so no
ReLU escapes because of how a model happens to be written. How a call is spelled
is :mod:`~gbp_widgets.engine.spellings`' business; what a site's backward does,
:mod:`~gbp_widgets.engine.rectifier`'s and :mod:`~gbp_widgets.engine.gated`'s.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch
from torch.overrides import TorchFunctionMode

from gbp_widgets.engine.gated import (
    GATED_FUNCTIONS,
    PRODUCTS,
    GatedCall,
    RuleGate,
    WrittenOut,
    parse_gated,
)
from gbp_widgets.engine.rectifier import RuleReLU
from gbp_widgets.engine.recurrent import FUSED_RELU, FUSED_UNCOVERED, unrolled
from gbp_widgets.engine.spellings import (
    CANDIDATES,
    UNCOVERED,
    ReluCall,
    Uncovered,
    differentiable,
    function_name,
    parse_call,
)
from gbp_widgets.engine.tokens import EMBEDDING_FUNCTIONS

_WATCHED = CANDIDATES | UNCOVERED | FUSED_RELU | FUSED_UNCOVERED.keys() | EMBEDDING_FUNCTIONS
# With gates, a sigmoid may be half of ``x * sigmoid(x)``, completed by a product.
_WRITTEN_OUT = PRODUCTS | {"sigmoid"}

SiteFactory = Callable[[ReluCall], torch.Tensor]
# Receives a gated call and, for ``x * sigmoid(x)`` written out, the sigmoid's report to
# withdraw (its name becomes the site's).
GatedFactory = Callable[[GatedCall, object], torch.Tensor]
# Sees each embedding look-up and returns the leaf that replaces its output, or None.
EmbeddingSink = Callable[[object, tuple, dict], torch.Tensor | None]
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
    ``on_embedding`` sees every embedding look-up (see
    :class:`~gbp_widgets.engine.tokens.EmbeddingTap`) and may replace its output.
    """

    def __init__(
        self,
        on_relu: SiteFactory,
        on_uncovered: UncoveredSink,
        on_gated: GatedFactory | None = None,
        on_embedding: EmbeddingSink | None = None,
    ) -> None:
        super().__init__()
        self._on_embedding = on_embedding
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
        if base in EMBEDDING_FUNCTIONS:
            leaf = self._on_embedding(func, args, kwargs) if self._on_embedding else None
            return func(*args, **kwargs) if leaf is None else leaf
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
            if differentiable(call.input):
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
            if differentiable(call.input):
                return self._on_gated(call, None)
            self._report_hidden(call.gate.kind)
            return func(*args, **kwargs)
        if base == "sigmoid":
            if inplace or not args or not differentiable(args[0]) or len(args) > 1 or kwargs:
                return None
            out = func(*args, **kwargs)
            self._written.saw_sigmoid(args[0], out, self._on_uncovered("sigmoid"))
            return out
        found = self._written.product(func, args, kwargs, inplace)
        if found is None or not differentiable(found[0].input):
            return func(*args, **kwargs)
        return self._on_gated(*found)

    def _rectify(self, x: torch.Tensor) -> torch.Tensor:
        """One ReLU of a fused recurrent kernel written out step by step."""
        if differentiable(x):
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
