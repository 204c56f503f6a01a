"""Per-call records of ReLU-family sites and the public :class:`Site` view of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from gbp_widgets.engine.bitmask import PackedMask, both, count_per_item
from gbp_widgets.engine.rules import BACKWARD_RULES, BackwardRule, packed_backward_mask


class NotGuided(NamedTuple):
    """A nonlinearity the rules do not cover, seen during the forward pass.

    ``name`` follows the site naming (``module.path#k``); ``kind`` is the
    function's name, e.g. ``"gelu"`` or ``"sigmoid"``.
    """

    name: str
    kind: str


@dataclass
class BackwardState:
    """What the backward of every site in one recording reads when it runs.

    The rule is read at backward time, so one forward pass serves any number
    of backward passes under different rules. During a pass, ``sink``
    collects backward masks and ``grads`` incoming gradients, by site index,
    when they are wanted.
    """

    rule: BackwardRule = BACKWARD_RULES["guided"]
    sink: dict[int, PackedMask] | None = None
    grads: dict[int, torch.Tensor] | None = None

    def observe(self, index: int, grad: torch.Tensor) -> None:
        """Record what arrived at site ``index``: its backward mask, packed while the
        gradient is fresh in cache, and the gradient itself when values are kept."""
        if self.sink is not None:
            self.sink[index] = packed_backward_mask(grad)
        if self.grads is not None:
            self.grads[index] = grad


# A forward mask as stored: packed bits for a rectifier's ``1[x>0]``, the float gate
# ``s(x)`` itself for a gated call's soft mask.
ForwardPart = PackedMask | torch.Tensor


@dataclass
class SiteRecord:
    """One ReLU-family (or, with gates, gated) call as seen in the forward pass.

    ``output`` is the call's output ``(N, ...)`` tensor when the recording
    keeps outputs, for neuron targets; ``forward_part`` its forward mask when
    masks are captured. ``gate`` is the gated call's :class:`~gbp_widgets.engine.gated.Gate`
    (``None`` at a rectifier).
    """

    index: int
    name: str
    kind: str
    upper: float | None
    shape: tuple[int, ...]
    output: torch.Tensor | None
    forward_part: ForwardPart | None
    gate: object = None


@dataclass(frozen=True)
class Site:
    """A ReLU-family call (or, with ``activations="gated"``, a gated one) and what the
    rules saw there.

    ``name`` is the enclosing module's path plus a call number counted from 1
    (``layer1.0.relu#2`` is the second call of that module); functional calls
    made directly in the model's own ``forward`` carry the model's class name.
    ``kind`` is ``"relu"``, ``"relu6"`` or ``"hardtanh"``, or for a gated call
    ``"gelu"``, ``"gelu_tanh"``, ``"silu"``, ``"mish"`` or ``"hardswish"``;
    ``shape`` is the ``(N, ...)`` shape of the call's input. Masks have that
    shape and exist only when the explanation captured masks. At a rectifier
    they are ``bool``, unpacked on access from bit-packed storage. At a gated
    call (``soft``) the forward mask is the gate ``s(x)``, a float in ``[0, 1]``
    of the input's dtype, and the product is ``s(x) * 1[g>0]``.
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    forward_parts: tuple[ForwardPart, ...] = field(default=(), repr=False)
    backward_parts: tuple[PackedMask, ...] = field(default=(), repr=False)
    soft: bool = False

    @property
    def captured(self) -> bool:
        """Whether masks were captured for this site."""
        return bool(self.forward_parts)

    @property
    def forward_mask(self) -> torch.Tensor:
        """``1[x>0]`` (``1[0<x<k]`` for ReLU6 / Hardtanh) as a ``bool`` tensor; at a gated
        call the gate ``s(x)``, a float tensor in ``[0, 1]``."""
        return self._join(self.forward_parts, "forward_mask")

    @property
    def backward_mask(self) -> torch.Tensor:
        """``1[g>0]`` for the gradient ``g`` arriving at the call's output.

        A site the backward pass never reached received no gradient: its
        backward mask is all ``False``.
        """
        return self._join(self.backward_parts, "backward_mask")

    @property
    def product(self) -> torch.Tensor:
        """Forward AND backward mask: exactly where guided backprop passes (at a gated
        call ``s(x) * 1[g>0]``, how much of ``relu(g)`` it passes)."""
        if self.soft:
            return self.forward_mask * self.backward_mask
        return self.forward_mask & self.backward_mask

    def open_shares(self, mask: str) -> torch.Tensor:
        """Per item, the share of units open in ``mask`` (``"forward_mask"``,
        ``"backward_mask"`` or ``"product"``): ``(N,)`` float, counted on the packed
        bits without unpacking them where each item fills whole bytes. At a gated
        call a unit counts as open by its gate: the share is the mean of the mask."""
        if mask not in ("forward_mask", "backward_mask", "product"):
            raise ValueError(f"unknown mask {mask!r}: forward_mask, backward_mask or product")
        self._require_captured(mask)
        if self.soft:
            values = getattr(self, mask)
            return values.reshape(values.shape[0], -1).float().mean(dim=1).cpu()
        counts = []
        for forward, backward in zip(self.forward_parts, self.backward_parts, strict=True):
            if mask == "forward_mask":
                counts.append(count_per_item(forward).cpu())
            elif backward is None:
                counts.append(torch.zeros(forward.shape[0], dtype=torch.int64))
            else:
                chosen = backward if mask == "backward_mask" else both(forward, backward)
                counts.append(count_per_item(chosen).cpu())
        per_item = 1
        for size in self.forward_parts[0].shape[1:]:
            per_item *= size
        return torch.cat(counts).float() / per_item

    @property
    def mask_nbytes(self) -> int:
        """Bytes used by this site's stored masks."""
        return sum(_nbytes(p) for p in self.forward_parts + self.backward_parts)

    def _require_captured(self, what: str) -> None:
        if not self.captured:
            raise RuntimeError(
                f"site {self.name!r} has no {what}: the explanation was made with "
                "capture_masks=False; explain again with capture_masks=True"
            )

    def _join(self, parts: tuple[ForwardPart | None, ...], what: str) -> torch.Tensor:
        self._require_captured(what)
        chunks = [
            _unpacked(p) if p is not None else self._empty_like(i) for i, p in enumerate(parts)
        ]
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks)

    def _empty_like(self, part: int) -> torch.Tensor:
        template = self.forward_parts[part]
        device = template.device if isinstance(template, torch.Tensor) else template.bits.device
        return torch.zeros(template.shape, dtype=torch.bool, device=device)


def _unpacked(part: ForwardPart) -> torch.Tensor:
    return part if isinstance(part, torch.Tensor) else part.unpack()


def _nbytes(part: ForwardPart | None) -> int:
    if isinstance(part, torch.Tensor):
        return part.numel() * part.element_size()
    return 0 if part is None else part.nbytes


@dataclass(frozen=True)
class Backprop:
    """Result of one backward pass over a :class:`Recording`.

    ``input_grads`` has one gradient per recorded input, each of that input's
    shape ``(N, ...)``; ``extra_grads`` follow the order of the tensors asked
    for; ``target`` is the resolved target (``(N,)`` classes, the
    :class:`Neuron` or :class:`Region`, or the callable). ``site_grads`` maps
    site index to the gradient that arrived at its output, for recordings
    that keep values (empty otherwise).
    """

    input_grads: tuple[torch.Tensor, ...]
    extra_grads: tuple[torch.Tensor, ...]
    target: object
    sites: tuple[Site, ...]
    site_grads: dict[int, torch.Tensor]

    @property
    def input_grad(self) -> torch.Tensor:
        """The gradient of the first (usually only) input."""
        return self.input_grads[0]
