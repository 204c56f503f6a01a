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

# ``model.named_modules()`` walked once per forward pass and shared by everything that
# needs it: a walk costs about as much as a small layer.
Modules = tuple[tuple[str, nn.Module], ...]


class CallNamer:
    """Names calls ``path#k``: the enclosing module's path and a per-path count from 1.

    The enclosing module is found by walking the caller's Python frames up to
    the nearest method whose ``self`` is a submodule of ``model``, so the
    model needs no hooks. Calls made in the model's own methods carry its
    class name. Inside ``torch.compile`` wrappers the names are the eager
    model's.
    """

    def __init__(self, model: nn.Module, modules: Modules) -> None:
        self._root = type(getattr(model, "_orig_mod", model)).__name__
        self._paths = {id(module): _eager_path(path) for path, module in modules}
        self._calls: Counter[str] = Counter()

    def next_name(self) -> str:
        return self.name_in(self._enclosing_path() or self._root)

    def name_in(self, path: str) -> str:
        """The next call's name in the module at ``path``, known without a frame walk."""
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


def _eager_path(path: str) -> str:
    """``path`` without the ``_orig_mod`` steps that ``torch.compile`` wrappers add, so
    a compiled model's sites carry the names of the eager model's."""
    if "_orig_mod" not in path:
        return path
    return ".".join(part for part in path.split(".") if part != "_orig_mod")


class OutputKeeper:
    """Keeps outputs of chosen modules during one forward pass, for Grad-CAM and neurons.

    ``keep`` names modules whose outputs are kept; with ``keep_last_spatial``
    the last module to return a ``(N, C, H, W)`` output with ``H * W > 1`` is
    kept too. A kept output is the tensor as the module returned it: the model
    goes on with a copy, so a later in-place edit (``out += identity``, an
    in-place ReLU) cannot change it. Copying every candidate for the last
    spatial output would double the activation memory, so that one is only
    watched: :attr:`last_spatial_changed` tells whether it was edited later.
    Hooks are added only for what is asked, on entering :meth:`active`, and
    removed on leaving it whatever happens; they react only in the thread
    that entered.
    """

    def __init__(
        self, modules: Modules, keep: tuple[str, ...] = (), keep_last_spatial: bool = False
    ) -> None:
        self._modules = modules
        self._keep = set(keep)
        self._keep_last_spatial = keep_last_spatial
        self._owner: int | None = None
        self._last_version = 0
        self.kept: dict[str, torch.Tensor] = {}
        self.last_spatial: tuple[str, torch.Tensor] | None = None

    @property
    def last_spatial_changed(self) -> bool:
        """Whether the last spatial output was edited in place after its module returned it."""
        return self.last_spatial is not None and (
            self.last_spatial[1]._version != self._last_version
        )

    @contextmanager
    def active(self) -> Iterator[OutputKeeper]:
        """Hook the modules asked for during the ``with`` block."""
        self._owner = threading.get_ident()
        handles = []
        try:
            for path, module in self._modules:
                if path and (path in self._keep or self._keep_last_spatial):
                    handles.append(module.register_forward_hook(self._hook(path)))
            yield self
        finally:
            for handle in handles:
                handle.remove()
            self._owner = None

    def _hook(self, path: str):
        def hook(module: nn.Module, args: tuple, output: object) -> object:
            if threading.get_ident() != self._owner or not isinstance(output, torch.Tensor):
                return None
            if self._keep_last_spatial and output.dim() == 4 and output.shape[-2:].numel() > 1:
                self.last_spatial = (path, output)
                self._last_version = output._version
            if path in self._keep:
                self.kept[path] = output
                return output.clone()
            return None

        return hook
