"""Why a forward pass failed on the inputs, told only after it failed.

Nothing here refuses inputs in advance: a model may reshape, patch or
space-to-depth its input before any layer sees it, so guessing from the first
layer *registered* would block models that run. Instead, the first
convolution or linear layer *called* is noted during the forward pass, and
when the pass fails, that layer and the layer that failed are held against
the tensors they received: a hint is given only where a layer received one of
the inputs as it was given and cannot take it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_pre_hook

_LAYERS = (nn.modules.conv._ConvNd, nn.Linear)
_RANK_NAMES = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}

# (path, layer, the tensor it received)
LayerCall = tuple[str, nn.Module, torch.Tensor]


class FirstLayerCall:
    """Notes the first convolution or linear layer of ``modules`` called, with its input.

    One global pre-hook watches module calls until that first one and then removes
    itself, so the rest of the pass runs without it (hooking every layer of a large
    model would cost more than the watching); it reacts only in the thread that
    entered :meth:`watching`.
    """

    def __init__(self, modules: tuple[tuple[str, nn.Module], ...]) -> None:
        self._layers = {id(module): path for path, module in modules if isinstance(module, _LAYERS)}
        self._handle = None
        self._owner: int | None = None
        self.first: LayerCall | None = None

    @contextmanager
    def watching(self) -> Iterator[FirstLayerCall]:
        self._owner = threading.get_ident()
        try:
            if self._layers:
                self._handle = register_module_forward_pre_hook(self._hook)
            yield self
        finally:
            self._remove()
            self._owner = None

    def _hook(self, module: nn.Module, args: tuple) -> None:
        path = self._layers.get(id(module))
        if path is None or threading.get_ident() != self._owner or self.first is not None:
            return
        if args and isinstance(args[0], torch.Tensor):
            self.first = (path, module, args[0])
        self._remove()

    def _remove(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def failure_hint(
    error: BaseException,
    model: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    first: LayerCall | None,
) -> str:
    """What in ``inputs`` the model could not take, or ``""`` when nothing can be said.

    The layer that raised (the innermost convolution or linear layer of
    ``model`` in ``error``'s traceback) is looked at first, then the first layer
    called; each only when the tensor it received has the shape of one of the
    inputs, so the hint names a layer that really saw them.
    """
    for call in (_failed_layer(error, model), first):
        if call is None:
            continue
        path, layer, received = call
        if any(received.shape == given.shape for given in inputs):
            hint = mismatch(received, path, layer)
            if hint:
                return hint
    return ""


def mismatch(batch: torch.Tensor, path: str, layer: nn.Module) -> str:
    """Why ``layer`` (at ``path``) cannot take ``batch`` as a batch, or ``""``."""
    kind = type(layer).__name__
    if isinstance(layer, nn.modules.conv._ConvNd):
        dims = len(layer.kernel_size)
        if batch.dim() != dims + 2:
            return (
                f"the model's layer {path!r} ({kind}) takes "
                f"{_RANK_NAMES.get(dims, f'rank {dims + 2}')} inputs, and the inputs have "
                f"shape {tuple(batch.shape)}"
            )
        if batch.shape[1] != layer.in_channels:
            return (
                f"inputs of shape {tuple(batch.shape)} have {batch.shape[1]} channels, but the "
                f"model's layer {path!r} ({kind}) expects {layer.in_channels}: convert "
                "the inputs (e.g. grayscale to RGB) to match"
            )
        return _too_small(batch, path, layer)
    if isinstance(layer, nn.Linear) and batch.shape[-1] != layer.in_features:
        return (
            f"inputs of shape {tuple(batch.shape)} do not fit the model's layer "
            f"{path!r} ({kind}), which takes {layer.in_features} features: give "
            f"(N, {layer.in_features}) inputs"
        )
    return ""


def _too_small(batch: torch.Tensor, path: str, layer: nn.modules.conv._ConvNd) -> str:
    """Why ``batch`` is too small for the convolution's kernel, or ``""``."""
    if not isinstance(layer.padding, tuple):
        return ""  # "same" pads any size; "valid" is the zero padding below
    shape = zip(layer.kernel_size, layer.dilation, layer.padding, strict=True)
    needed = [dilation * (size - 1) + 1 - 2 * pad for size, dilation, pad in shape]
    if all(have >= need for have, need in zip(batch.shape[2:], needed, strict=True)):
        return ""
    return (
        f"inputs of shape {tuple(batch.shape)} are smaller than the kernel of the model's layer "
        f"{path!r} ({type(layer).__name__}, kernel {tuple(layer.kernel_size)}), which needs at "
        f"least {' x '.join(map(str, needed))} positions: give larger inputs, e.g. at the size "
        "the model was trained on"
    )


def _failed_layer(error: BaseException, model: nn.Module) -> LayerCall | None:
    """The innermost convolution or linear layer of ``model`` running when ``error``
    was raised, with the tensor it received."""
    paths = {id(module): path for path, module in model.named_modules()}
    found = None
    for frame in _frames(error.__traceback__):
        owner = frame.f_locals.get("self")
        received = frame.f_locals.get("input")
        if isinstance(owner, _LAYERS) and id(owner) in paths and isinstance(received, torch.Tensor):
            found = (paths[id(owner)], owner, received)
    return found


def _frames(traceback: TracebackType | None) -> Iterator:
    while traceback is not None:
        yield traceback.tb_frame
        traceback = traceback.tb_next
