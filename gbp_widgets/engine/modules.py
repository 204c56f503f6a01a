"""Which module a call happens in, and keeping chosen modules' outputs for one pass."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

# Frames between a ReLU call and the code that made it are few; the cap only
# stops a runaway walk in deeply recursive models.
_MAX_FRAMES = 64


class CallNamer:
    """Names calls ``path#k``: the enclosing module's path and a per-path count from 1.

    The enclosing module is found by walking the caller's Python frames up to
    the nearest method whose ``self`` is a submodule of ``model``, so the
    model needs no hooks. Calls made in the model's own methods carry its
    class name.
    """

    def __init__(self, model: nn.Module) -> None:
        self._root = type(model).__name__
        self._paths = {id(module): path for path, module in model.named_modules()}
        self._calls: Counter[str] = Counter()

    def next_name(self) -> str:
        path = self._enclosing_path() or self._root
        self._calls[path] += 1
        return f"{path}#{self._calls[path]}"

    def _enclosing_path(self) -> str:
        frame = sys._getframe(2)
        for _ in range(_MAX_FRAMES):
            if frame is None:
                break
            if frame.f_code.co_varnames[:1] == ("self",):
                path = self._paths.get(id(frame.f_locals.get("self")))
                if path is not None:
                    return path
            frame = frame.f_back
        return ""


class OutputKeeper:
    """Keeps outputs of chosen modules during one forward pass, for Grad-CAM.

    ``keep`` names modules whose outputs are kept; with ``keep_last_spatial``
    the last module to return a ``(N, C, H, W)`` output with ``H * W > 1`` is
    kept too. Hooks are added only for what is asked, on entering
    :meth:`active`, and removed on leaving it whatever happens; they react only
    in the thread that entered.
    """

    def __init__(
        self, model: nn.Module, keep: tuple[str, ...] = (), keep_last_spatial: bool = False
    ) -> None:
        self._model = model
        self._keep = set(keep)
        self._keep_last_spatial = keep_last_spatial
        self._owner: int | None = None
        self.kept: dict[str, torch.Tensor] = {}
        self.last_spatial: tuple[str, torch.Tensor] | None = None

    @contextmanager
    def active(self) -> Iterator[OutputKeeper]:
        """Hook the modules asked for during the ``with`` block."""
        self._owner = threading.get_ident()
        handles = []
        try:
            for path, module in self._model.named_modules():
                if path and (path in self._keep or self._keep_last_spatial):
                    handles.append(module.register_forward_hook(self._hook(path)))
            yield self
        finally:
            for handle in handles:
                handle.remove()
            self._owner = None

    def _hook(self, path: str):
        def hook(module: nn.Module, args: tuple, output: object) -> None:
            if threading.get_ident() != self._owner or not isinstance(output, torch.Tensor):
                return
            if path in self._keep:
                self.kept[path] = output
            if self._keep_last_spatial and output.dim() == 4 and output.shape[-2:].numel() > 1:
                self.last_spatial = (path, output)

        return hook
