"""A model's sites learned once, so that later passes watch its activation modules only,
not every call.

The function mode (:mod:`~gbp_widgets.engine.intercept`) sees every torch call a model
makes, which is how no ReLU escapes, however it is written. Its price is a round trip
through Python for each call, convolutions and additions included: about 4 ms of a 120 ms
ResNet-50 pass at batch 1 on two CPU cores, more than the rules cost. Most models make
every activation call through an activation module (``nn.ReLU``, ``nn.GELU``, ...).

So an engine learns a :class:`ModulePlan` from a pass made with the mode: when every
site and every report of that pass came from such a module (of exactly a class of
:data:`ACTIVATION_MODULES`, with its ``forward`` untouched), the plan lists those modules
and what the pass saw, in order. A later pass with inputs of the same signature
(:func:`signature`) runs without the mode, except inside those modules: for the pass a
ReLU-family module's ``forward`` makes its site directly, from the call its stock forward
would make, and any other's enters the mode around its own call, so sites and reports are
made by the same code as before. If what that pass sees differs from the plan, the pass is
made again with the mode everywhere and the plan learned again from it (none, where that
would be the plan the pass disproved). What no plan can see is
a model that starts calling other functions for inputs of the same signature (a flag its
``forward`` reads): a new engine learns afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from gbp_widgets.engine.spellings import ReluCall, differentiable, parse_call

# Modules whose stock forward is one call of the activation they are named after.
ACTIVATION_MODULES = (
    nn.ReLU,
    nn.ReLU6,
    nn.Hardtanh,
    nn.Threshold,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Sigmoid,
    nn.Tanh,
    nn.ELU,
    nn.CELU,
    nn.SELU,
    nn.LeakyReLU,
    nn.Softplus,
    nn.LogSigmoid,
    nn.Softsign,
    nn.Tanhshrink,
)

# What a pass saw: its sites' and its reports' names and kinds, each in order.
Seen = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]


class StalePlan(RuntimeError):
    """A planned pass saw other sites or reports than its plan."""


@dataclass(frozen=True)
class ModulePlan:
    """The modules that make a model's sites and reports, and what a pass sees."""

    modules: tuple[tuple[str, nn.Module], ...]
    seen: Seen


def learn_plan(named: dict[str, nn.Module], seen: Seen) -> ModulePlan | None:
    """The plan of a pass made with the mode that saw ``seen``, among the model's modules
    by path ``named``; ``None`` unless each site and report came from an activation
    module's own call (its name's path is that module's)."""
    modules: dict[str, nn.Module] = {}
    for name, _ in (*seen[0], *seen[1]):
        path = name.rsplit("#", 1)[0]
        module = named.get(path) if path else None
        if type(module) not in ACTIVATION_MODULES or "forward" in vars(module):
            return None
        modules[path] = module
    return ModulePlan(tuple(modules.items()), seen) if modules else None


# A rectifier module's call as its stock forward spells it, parsed as the mode parses it:
# such a module makes its site without entering the mode (the most common site, made
# cheaper).
_RECTIFIER_CALLS = {
    nn.ReLU: lambda m, x: ("relu", (x,), {"inplace": m.inplace}),
    nn.ReLU6: lambda m, x: ("hardtanh", (x, m.min_val, m.max_val, m.inplace), {}),
    nn.Hardtanh: lambda m, x: ("hardtanh", (x, m.min_val, m.max_val, m.inplace), {}),
}


@contextmanager
def planned_pass(
    plan: ModulePlan,
    mode: TorchFunctionMode,
    on_relu: Callable[[ReluCall, str], torch.Tensor],
) -> Iterator[None]:
    """For the ``with`` block, each planned module's calls in this thread make their sites
    and reports: a rectifier module's through ``on_relu`` directly, with the module's path,
    any other's under ``mode``; nothing else is watched, and other threads' calls run as
    before."""
    owner = threading.get_ident()

    def watched(path: str, module: nn.Module):
        stock = type(module).forward.__get__(module)
        spelled = _RECTIFIER_CALLS.get(type(module))

        def forward(*args, **kwargs):
            if threading.get_ident() != owner:
                return stock(*args, **kwargs)
            if spelled is not None and len(args) == 1 and not kwargs:
                call = parse_call(*spelled(module, args[0]))
                if isinstance(call, ReluCall) and differentiable(call.input):
                    return on_relu(call, path)
            with mode:
                return stock(*args, **kwargs)

        return forward

    placed: list[tuple[nn.Module, object]] = []
    try:
        for path, module in plan.modules:
            if "forward" in vars(module):
                # Another pass's, on a module two models share: watch every call instead.
                raise StalePlan(f"{type(module).__name__} has a forward of its own now")
            placed.append((module, watched(path, module)))
            module.forward = placed[-1][1]
        yield
    finally:
        for module, forward in placed:
            if vars(module).get("forward") is forward:
                del module.forward


class Plans:
    """One engine's plans by input :func:`signature` (``None`` where none holds, so none is
    tried again); the most recent ``limit`` signatures are kept."""

    def __init__(self, limit: int = 16) -> None:
        self._plans: dict[Hashable, ModulePlan | None] = {}
        self._limit = limit

    def get(self, key: Hashable) -> ModulePlan | None:
        return self._plans.get(key)

    def put(self, key: Hashable, plan: ModulePlan | None) -> None:
        self._plans.pop(key, None)
        self._plans[key] = plan
        while len(self._plans) > self._limit:
            del self._plans[next(iter(self._plans))]


def signature(tensors: tuple, args: tuple, kwargs: dict) -> Hashable | None:
    """What a plan is kept under: the inputs' shapes, dtypes and devices and the forward
    arguments (tensors by the same, plain values by value); ``None`` where an argument is
    anything else, so no plan is kept or used."""
    try:
        return _described((tensors, args, tuple(sorted(kwargs.items()))))
    except TypeError:
        return None


def _described(value: object) -> Hashable:
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.dtype, value.device, value.requires_grad)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_described(v) for v in value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"no signature for {type(value).__name__}")
