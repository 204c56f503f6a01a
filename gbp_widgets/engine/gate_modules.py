"""Gated activations that libraries write out from smaller calls, found by what they compute.

Hugging Face's ``NewGELUActivation`` (GPT-2's ``gelu_new``), ``FastGELUActivation`` and
``AccurateGELUActivation`` spell the tanh GELU with ``tanh`` and ``pow``;
``QuickGELUActivation`` and timm's ``QuickGELU`` are ``x * sigmoid(1.702 x)``. The function
mode sees only their pieces (a ``tanh``, a ``sigmoid`` of something that is not the
product's other factor), so without this module GPT-2 has no site at all and reports
``tanh``.

A module is taken for a gate only when that is proved: it is a leaf with no parameters or
buffers, not one of torch's own (whose calls the function mode already sees), and on a probe
of 321 values from -8 to 8 it returns one of :data:`MODULE_GATES`' activations to 2e-5
(the exact and the tanh GELU differ by 5e-4 there, so the two are told apart). The answer is
kept per module. A module so proved is hooked while the pass runs: when its call made no
site of its own and did not write into its input, the reports its pieces made are withdrawn
and its output becomes one gated site (``activations="gated"``), or one report of the gate's
kind (``"relu"``, so the hint to try gates names what it is). Anything else stays as the
function mode saw it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from gbp_widgets.engine.gated import GATES, Gate, GatedCall
from gbp_widgets.engine.sites import NotGuided

_PROBE = torch.linspace(-8.0, 8.0, 321)
_TOLERANCE = 2e-5
MODULE_GATES = tuple(GATES.values())

# Module -> its proved gate (None: not a gate), so each module is probed once.
_PROVED: weakref.WeakKeyDictionary[nn.Module, Gate | None] = weakref.WeakKeyDictionary()


def proved_gate(module: nn.Module) -> Gate | None:
    """The gate ``module`` computes, or ``None`` when it is not proved to be one."""
    if module in _PROVED:
        return _PROVED[module]
    gate = _probe(module) if _is_candidate(module) else None
    _PROVED[module] = gate
    return gate


def _is_candidate(module: nn.Module) -> bool:
    return (
        not type(module).__module__.startswith("torch.")
        and next(module.children(), None) is None
        and next(module.parameters(recurse=False), None) is None
        and next(module.buffers(recurse=False), None) is None
    )


def _probe(module: nn.Module) -> Gate | None:
    probe = _PROBE.clone()
    try:
        with torch.no_grad():
            out = module(probe)
    except Exception:  # noqa: BLE001 - a module that cannot take a 1-D float tensor is no gate
        return None
    if not isinstance(out, torch.Tensor) or out.shape != _PROBE.shape:
        return None
    for gate in MODULE_GATES:
        with torch.no_grad():
            expected = gate.activation(_PROBE.clone())
        if torch.allclose(out.float(), expected, rtol=0.0, atol=_TOLERANCE):
            return gate
    return None


class GateModules:
    """Hooks the proved gate modules of ``modules`` for one forward pass.

    ``sites`` and ``not_guided`` are the recording's lists, read and edited as calls
    return; ``on_gated`` is the recording's gated-site factory (the function mode's), or
    ``None`` with ``activations="relu"``.
    """

    def __init__(
        self,
        modules: tuple[tuple[str, nn.Module], ...],
        sites: list,
        not_guided: list[NotGuided],
        on_gated: Callable[[GatedCall, NotGuided | None], torch.Tensor] | None,
    ) -> None:
        self._modules = modules
        self._sites = sites
        self._not_guided = not_guided
        self._on_gated = on_gated
        self._owner: int | None = None

    @contextmanager
    def active(self) -> Iterator[None]:
        self._owner = threading.get_ident()
        handles = []
        try:
            for _, module in self._modules:
                gate = proved_gate(module)
                if gate is not None:
                    entered: list[tuple] = []
                    handles.append(module.register_forward_pre_hook(self._before(entered)))
                    handles.append(module.register_forward_hook(self._after(gate, entered)))
            yield
        finally:
            for handle in handles:
                handle.remove()
            self._owner = None

    def _before(self, entered: list):
        def hook(module: nn.Module, args: tuple) -> None:
            if threading.get_ident() != self._owner or not args:
                return
            x = args[0]
            if isinstance(x, torch.Tensor):
                entered.append((x, x._version, len(self._sites), len(self._not_guided)))

        return hook

    def _after(self, gate: Gate, entered: list):
        def hook(module: nn.Module, args: tuple, output: object) -> object:
            if threading.get_ident() != self._owner or not entered:
                return None
            x, version, sites, reports = entered.pop()
            made_inside = len(self._sites) > sites
            differentiable = x.is_floating_point() and x.requires_grad and torch.is_grad_enabled()
            if made_inside or x._version != version or not isinstance(output, torch.Tensor):
                return None
            if not differentiable or output.shape != x.shape:
                return None
            inner = self._not_guided[reports:]
            del self._not_guided[reports:]
            first = inner[0] if inner else None
            if self._on_gated is None:
                name = first.name if first else type(module).__name__
                self._not_guided.append(NotGuided(name, gate.kind))
                return None
            if first is not None:
                self._not_guided.append(first)
            made = output.detach()
            return self._on_gated(GatedCall(x, gate, False, lambda: made), first)

        return hook
