"""Bit-packed boolean masks: one bit per element, 1/32 of the float32 tensor they describe."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# Multiplying eight 0/1 bytes held in one int64 word by this constant gathers
# them into the word's top byte (byte i lands on bit 7 - i); two's-complement
# wrap-around is what makes the trick work.
_GATHER = 0x8040201008040201 - (1 << 64)
_BIT_WEIGHTS = tuple(1 << (7 - i) for i in range(8))
# How many bits are set in each byte value.
_POPCOUNT = tuple(bin(value).count("1") for value in range(256))


@dataclass(frozen=True)
class PackedMask:
    """A boolean tensor stored as packed bits.

    ``bits`` is a flat ``uint8`` tensor of ``ceil(numel / 8)`` bytes on the
    device of the original mask; ``shape`` is the original shape.
    """

    bits: torch.Tensor
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        """Storage used by the packed bits, in bytes."""
        return self.bits.numel() * self.bits.element_size()

    def unpack(self) -> torch.Tensor:
        """Return the mask as a ``bool`` tensor of ``shape``."""
        return unpack(self)


_NUMPY_FLOATS = (torch.float16, torch.float32, torch.float64)


def pack_interval(values: torch.Tensor, low: float, high: float | None = None) -> PackedMask:
    """Pack ``low < values`` (and ``values < high`` when given) without a bool tensor.

    On the CPU, NumPy compares and packs about twice as fast as torch compares.
    """
    if values.device.type == "cpu" and values.dtype in _NUMPY_FLOATS:
        array = values.detach().numpy()
        inside = array > low
        if high is not None:
            inside &= array < high
        return PackedMask(bits=torch.from_numpy(np.packbits(inside)), shape=tuple(values.shape))
    inside = values > low
    if high is not None:
        inside &= values < high
    return pack(inside)


def pack(mask: torch.Tensor) -> PackedMask:
    """Pack a ``bool`` tensor of any shape into one bit per element, on its device."""
    if mask.device.type == "cpu":
        # NumPy's packbits is several times faster than the tensor route below,
        # and puts element i of each byte on bit 7 - i just like it.
        bits = np.packbits(mask.detach().reshape(-1).numpy())
        return PackedMask(bits=torch.from_numpy(bits), shape=tuple(mask.shape))
    return pack_on_device(mask)


def pack_on_device(mask: torch.Tensor) -> PackedMask:
    """:func:`pack` with tensor operations only, so the bits stay on ``mask``'s device."""
    flat = mask.reshape(-1)
    padding = (-flat.numel()) % 8
    if padding:
        flat = torch.cat([flat, flat.new_zeros(padding)])
    words = flat.contiguous().view(torch.uint8).view(torch.int64)
    # Integer narrowing keeps the low byte, which is the gathered one after the shift.
    gathered = ((words * _GATHER) >> 56).to(torch.uint8)
    return PackedMask(bits=gathered, shape=tuple(mask.shape))


def unpack(packed: PackedMask) -> torch.Tensor:
    """Inverse of :func:`pack`: a ``bool`` tensor of ``packed.shape``."""
    numel = 1
    for size in packed.shape:
        numel *= size
    weights = torch.tensor(_BIT_WEIGHTS, dtype=torch.uint8, device=packed.bits.device)
    bits = (packed.bits.unsqueeze(-1) & weights) != 0
    return bits.reshape(-1)[:numel].reshape(packed.shape)


def both(first: PackedMask, second: PackedMask) -> PackedMask:
    """Elementwise AND of two packed masks of one shape, still packed."""
    return PackedMask(bits=first.bits & second.bits, shape=first.shape)


def count_per_item(packed: PackedMask) -> torch.Tensor:
    """How many elements are set in each slice along dimension 0: ``(shape[0],)`` int64.

    When a slice fills whole bytes, the bits are counted where they lie, without
    unpacking eight times the bytes.
    """
    items = packed.shape[0]
    per_item = 1
    for size in packed.shape[1:]:
        per_item *= size
    if per_item % 8:
        return unpack(packed).reshape(items, -1).sum(dim=1)
    table = torch.tensor(_POPCOUNT, dtype=torch.uint8, device=packed.bits.device)
    return table[packed.bits.long()].reshape(items, -1).sum(dim=1, dtype=torch.int64)
