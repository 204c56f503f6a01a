"""Checks on the user's model and the promise to leave it exactly as it was."""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


def check_model(model: object) -> nn.Module:
    """Return ``model`` if the engine can see every ReLU call in it, else raise ``TypeError``.

    TorchScript (scripted or traced) modules run their ReLUs out of Python's
    reach, anywhere in the tree: they are refused with their path and what to
    pass instead. ``torch.compile``d modules and functions are fine: the
    engine runs them eagerly (see :func:`eager_only`).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    for path, module in model.named_modules():
        if isinstance(module, torch.jit.ScriptModule):
            where = "this model is" if not path else f"its submodule {path!r} is"
            raise TypeError(
                f"{where} a TorchScript module (scripted or traced): its ReLU calls run inside "
                "TorchScript, out of the engine's reach, so every rule would silently give the "
                "plain gradient there. Build the model with the eager nn.Module you scripted "
                "or traced instead."
            )
    return model


@contextmanager
def evaluation_mode(modules: Iterable[nn.Module]) -> Iterator[None]:
    """Put every module of ``modules`` (a model's, from ``model.modules()``) in eval mode,
    restoring each one's own flag afterwards.

    Eval mode keeps batch norm from updating its running statistics and turns
    dropout off, so the explanation is deterministic and the buffers untouched.
    """
    training = [module for module in modules if module.training]
    try:
        for module in training:
            module.training = False
        yield
    finally:
        for module in training:
            module.training = True


@contextmanager
def eager_only() -> Iterator[None]:
    """Run code that ``torch.compile`` wrapped eagerly, so the function mode sees its calls.

    A compiled graph would fix the rule when it is traced and hide its masks;
    eager execution computes the same values one operation at a time.
    """
    with torch.compiler.set_stance("force_eager"):
        yield


_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """One lock per model, held around each intercepted forward pass.

    Two threads explaining the same model would otherwise race on the
    ``training`` flags that :func:`evaluation_mode` sets and restores: one
    thread could run batch norm in training mode and change its statistics.
    """
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.RLock()
        return lock


def model_device_and_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device of the model's first parameter or buffer, and its floating dtype.

    A model without tensors runs on the CPU in ``float32``.
    """
    tensors = itertools.chain(model.parameters(), model.buffers())
    first = next(tensors, None)
    if first is None:
        return torch.device("cpu"), torch.float32
    floats = (t.dtype for t in itertools.chain([first], tensors) if t.is_floating_point())
    return first.device, next(floats, torch.float32)
