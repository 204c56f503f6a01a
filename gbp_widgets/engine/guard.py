"""Checks on the user's model and the promise to leave it exactly as it was."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def check_model(model: object) -> nn.Module:
    """Return ``model`` if the engine can work on it, else raise ``TypeError``."""
    if isinstance(model, torch.jit.ScriptModule):
        raise TypeError(
            "this is a TorchScript module: its ReLU calls run inside TorchScript, "
            "out of the engine's reach. Pass the eager nn.Module you scripted or traced."
        )
    if hasattr(model, "_orig_mod") and type(model).__name__ == "OptimizedModule":
        raise TypeError(
            "this model was wrapped by torch.compile, whose compiled graph bypasses the "
            "engine. Pass the eager module instead: model._orig_mod"
        )
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    return model


@contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[None]:
    """Put every submodule in eval mode, restoring each one's own flag afterwards.

    Eval mode keeps batch norm from updating its running statistics and turns
    dropout off, so the explanation is deterministic and the buffers untouched.
    """
    training = [module for module in model.modules() if module.training]
    try:
        for module in training:
            module.training = False
        yield
    finally:
        for module in training:
            module.training = True


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


def expected_channels(model: nn.Module) -> int | None:
    """Input channels of the model's first convolution, if it has one."""
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return module.in_channels
    return None
