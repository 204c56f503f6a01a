"""The three ReLU backward rules, as plain tensor functions.

At a ReLU-family call with input ``x``, output ``y`` and incoming gradient ``g``
(the gradient with respect to ``y``):

=========  =============================  ==================
rule       gradient passed down            masks used
=========  =============================  ==================
gradient   ``g * 1[x>0]``                  forward
deconvnet  ``g * 1[g>0]``                  backward
guided     ``g * 1[x>0] * 1[g>0]``         forward and backward
=========  =============================  ==================

For ReLU6 and ``Hardtanh(0, k)`` the forward mask is ``1[0<x<k]``.
"""

from __future__ import annotations

import torch

from gbp_widgets.engine.bitmask import PackedMask, pack_interval

RULES: tuple[str, ...] = ("gradient", "deconvnet", "guided")
"""The rules ``explain`` takes: the plain gradient (Simonyan et al.), DeconvNet (Zeiler and
Fergus) and guided backprop (Springenberg et al.)."""


def check_rule(rule: object) -> str:
    """Return ``rule`` if it names one of :data:`RULES`, else raise ``ValueError``."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}: use one of {', '.join(repr(r) for r in RULES)}")
    return rule  # type: ignore[return-value]


def packed_forward_mask(output: torch.Tensor, upper: float | None) -> PackedMask:
    """Forward mask ``1[x>0]`` (or ``1[0<x<upper]``), bit-packed.

    It is read from the ReLU *output* ``y``: ``y>0`` exactly when ``x>0``, and
    ``0<y<k`` exactly when ``0<x<k`` for ``y = clamp(x, 0, k)``. Reading the
    output lets in-place calls overwrite ``x`` as they would without the engine.
    """
    return pack_interval(output, 0.0, upper)


def forward_mask(output: torch.Tensor, upper: float | None) -> torch.Tensor:
    """Forward mask ``1[x>0]`` (or ``1[0<x<upper]``) read from the output ``y``, as a
    bool tensor of ``y``'s shape: what an in-place call keeps for its backward, since
    code after it may overwrite ``y`` (a quarter of the memory of a copy of ``y``)."""
    above = output > 0
    return above if upper is None else above & (output < upper)


def packed_backward_mask(grad: torch.Tensor) -> PackedMask:
    """Backward mask ``1[g>0]`` of the gradient arriving at the ReLU output, bit-packed."""
    return pack_interval(grad, 0.0)


def apply_rule(
    rule: str, grad: torch.Tensor, saved: torch.Tensor, upper: float | None
) -> torch.Tensor:
    """Gradient passed below a ReLU-family call under ``rule``.

    ``saved`` is the call's input ``x``, its output ``y`` or the bool forward
    mask itself (:func:`forward_mask`): the forward mask is the same read from
    either (``x>0`` exactly when ``y>0``, ``0<x<k`` exactly when ``0<y<k``).
    ``grad`` and ``saved`` have the same shape; so does the result. Written
    with autograd's own fused backward kernels, so the rules cost about what
    plain backprop costs.
    """
    if rule == "deconvnet":
        return grad.clamp(min=0.0)
    if saved.dtype == torch.bool:
        through = torch.where(saved, grad, 0.0)
    elif upper is None:
        through = torch.ops.aten.threshold_backward(grad, saved, 0)
    else:
        through = torch.ops.aten.hardtanh_backward(grad, saved, 0.0, upper)
    # At a rectifier the guided rule is the positive part of the gradient rule.
    return through.clamp_(min=0.0) if rule == "guided" else through
