"""Knowing which module a call happens in, with hooks that live for one forward pass."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class ModuleTracker:
    """Tracks the module path enclosing each call during one forward pass.

    Hooks are added to every submodule of ``model`` on entering :meth:`active`
    and removed on leaving it, whatever happens in between. They react only in
    the thread that entered, so the same model run elsewhere is unaffected.
    ``keep`` names modules whose outputs are kept (for Grad-CAM); with
    ``keep_last_spatial`` the last module to return a ``(N, C, H, W)`` output
    with ``H * W > 1`` is kept too.
    """

    def __init__(
        self, model: nn.Module, keep: tuple[str, ...] = (), keep_last_spatial: bool = False
    ) -> None:
        self._model = model
        self._root = type(model).__name__
        self._keep = set(keep)
        self._keep_last_spatial = keep_last_spatial
        self._stack: list[str] = []
        self._calls: Counter[str] = Counter()
        self._owner: int | None = None
        self.kept: dict[str, torch.Tensor] = {}
        self.last_spatial: tuple[str, torch.Tensor] | None = None

    def next_call_name(self) -> str:
        """Name for a call in the current module: ``path#k``, ``k`` counting from 1."""
        path = self._stack[-1] if self._stack else self._root
        self._calls[path] += 1
        return f"{path}#{self._calls[path]}"

    @contextmanager
    def active(self) -> Iterator[ModuleTracker]:
        """Hook every submodule for the duration of the ``with`` block."""
        self._owner = threading.get_ident()
        handles = []
        try:
            for path, module in self._model.named_modules():
                label = path or self._root
                handles.append(module.register_forward_pre_hook(self._enter(label)))
                handles.append(
                    module.register_forward_hook(self._leave(path, label), always_call=True)
                )
            yield self
        finally:
            for handle in handles:
                handle.remove()
            self._stack.clear()
            self._owner = None

    def _enter(self, label: str):
        def hook(module: nn.Module, args: tuple) -> None:
            if threading.get_ident() == self._owner:
                self._stack.append(label)

        return hook

    def _leave(self, path: str, label: str):
        def hook(module: nn.Module, args: tuple, output: object) -> None:
            if threading.get_ident() != self._owner:
                return
            if self._stack and self._stack[-1] == label:
                self._stack.pop()
            if not isinstance(output, torch.Tensor):
                return
            if path in self._keep:
                self.kept[path] = output
            if self._keep_last_spatial and _is_spatial(output) and path:
                self.last_spatial = (path, output)

        return hook


def _is_spatial(tensor: torch.Tensor) -> bool:
    return tensor.dim() == 4 and tensor.shape[-1] * tensor.shape[-2] > 1
