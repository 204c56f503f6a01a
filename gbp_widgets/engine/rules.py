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

RULES: tuple[str, ...] = ("gradient", "deconvnet", "guided")


def check_rule(rule: object) -> str:
    """Return ``rule`` if it names one of :data:`RULES`, else raise ``ValueError``."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}: use one of {', '.join(repr(r) for r in RULES)}")
    return rule  # type: ignore[return-value]


def forward_mask(output: torch.Tensor, upper: float | None) -> torch.Tensor:
    """Forward mask ``1[x>0]`` (or ``1[0<x<upper]``) as a ``bool`` tensor.

    It is read from the ReLU *output* ``y``: ``y>0`` exactly when ``x>0``, and
    ``0<y<k`` exactly when ``0<x<k`` for ``y = clamp(x, 0, k)``. Reading the
    output lets in-place calls overwrite ``x`` as they would without the engine.
    """
    if upper is None:
        return output > 0
    return (output > 0) & (output < upper)


def backward_mask(grad: torch.Tensor) -> torch.Tensor:
    """Backward mask ``1[g>0]`` of the gradient arriving at the ReLU output."""
    return grad > 0


def passing_mask(
    rule: str, forward: torch.Tensor | None, backward: torch.Tensor | None
) -> torch.Tensor:
    """Where ``rule`` lets the gradient through, given the masks it uses.

    ``forward`` may be ``None`` for ``"deconvnet"`` and ``backward`` may be
    ``None`` for ``"gradient"``: those rules do not read them.
    """
    if rule == "gradient":
        return forward
    if rule == "deconvnet":
        return backward
    return forward & backward


def apply_rule(
    rule: str, grad: torch.Tensor, output: torch.Tensor, upper: float | None
) -> torch.Tensor:
    """Gradient passed below a ReLU-family call under ``rule``.

    ``grad`` and ``output`` have the same shape; the result has that shape and
    ``grad``'s dtype.
    """
    forward = None if rule == "deconvnet" else forward_mask(output, upper)
    backward = None if rule == "gradient" else backward_mask(grad)
    return torch.where(passing_mask(rule, forward, backward), grad, 0.0)
