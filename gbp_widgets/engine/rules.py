"""The three ReLU backward rules, as objects: what each does at a rectifier and at a gate.

At a ReLU-family call with input ``x``, output ``y`` and incoming gradient ``g``
(the gradient with respect to ``y``):

=========  =============================  ==================
rule       gradient passed down            masks used
=========  =============================  ==================
gradient   ``g * 1[x>0]``                  forward
deconvnet  ``g * 1[g>0]``                  backward
guided     ``g * 1[x>0] * 1[g>0]``         forward and backward
=========  =============================  ==================

For ReLU6 and ``Hardtanh(0, k)`` the forward mask is ``1[0<x<k]``. A rule is the pair of
masks it uses (:class:`BackwardRule`); nothing outside this module tells rules apart by
their names.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gbp_widgets.engine.bitmask import PackedMask, pack_interval


@dataclass(frozen=True)
class BackwardRule:
    """A rule of the table above: its name, and which masks it multiplies the incoming
    gradient by (``forward``: ``1[x>0]``, or a gate ``s(x)``; ``backward``: ``1[g>0]``)."""

    name: str
    forward: bool
    backward: bool

    def at_rectifier(
        self, grad: torch.Tensor, saved: torch.Tensor, upper: float | None
    ) -> torch.Tensor:
        """Gradient passed below a rectifier; ``saved`` is its input ``x``, its output ``y``
        or the bool forward mask (:func:`forward_mask`): the mask is the same read from any
        of them. Autograd's own fused kernels, so a rule costs about what plain backprop
        does."""
        if not self.forward:
            # DeconvNet never reads the forward pass; grad itself must stay untouched.
            return grad.clamp(min=0.0) if self.backward else grad
        if saved.dtype == torch.bool:
            through = torch.where(saved, grad, 0.0)
        elif upper is None:
            through = torch.ops.aten.threshold_backward(grad, saved, 0)
        else:
            through = torch.ops.aten.hardtanh_backward(grad, saved, 0.0, upper)
        # A new tensor: its positive part can be taken in place.
        return through.clamp_(min=0.0) if self.backward else through

    @property
    def passing_mask(self) -> str:
        """The :class:`~gbp_widgets.engine.Site` mask that is on where this rule lets the
        gradient through: ``"product"`` (both masks), ``"forward_mask"`` or
        ``"backward_mask"``."""
        if self.forward and self.backward:
            return "product"
        return "forward_mask" if self.forward else "backward_mask"

    def at_gate(self, grad: torch.Tensor, gate: torch.Tensor) -> torch.Tensor | None:
        """Gradient passed below a gated activation ``x * s(x)`` whose gate values are
        ``gate`` (``activations="gated"``, our extension): ``relu(g)`` times the gate for
        guided, ``relu(g)`` for DeconvNet; ``None`` where the rule keeps the activation's
        exact gradient (the gradient rule: plain backprop, as at a ReLU)."""
        if not self.backward:
            return None
        positive = grad.clamp(min=0.0)
        return positive.mul_(gate) if self.forward else positive


BACKWARD_RULES: dict[str, BackwardRule] = {
    rule.name: rule
    for rule in (
        BackwardRule("gradient", forward=True, backward=False),
        BackwardRule("deconvnet", forward=False, backward=True),
        BackwardRule("guided", forward=True, backward=True),
    )
}
"""The rules by name: the plain gradient (Simonyan et al.), DeconvNet (Zeiler and Fergus)
and guided backprop (Springenberg et al.)."""

RULES: tuple[str, ...] = tuple(BACKWARD_RULES)
"""The rules ``explain`` takes: the plain gradient (Simonyan et al.), DeconvNet (Zeiler and
Fergus) and guided backprop (Springenberg et al.)."""


def rule_named(rule: object) -> BackwardRule:
    """The :class:`BackwardRule` called ``rule`` (one given is returned as it is); an
    unknown name raises ``ValueError`` listing the names."""
    if isinstance(rule, BackwardRule):
        return rule
    if rule not in BACKWARD_RULES:
        raise ValueError(f"unknown rule {rule!r}: use one of {', '.join(repr(r) for r in RULES)}")
    return BACKWARD_RULES[rule]


def check_rule(rule: object) -> str:
    """Return ``rule`` if it names one of :data:`RULES`, else raise ``ValueError``."""
    return rule_named(rule).name


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
    rule: str | BackwardRule, grad: torch.Tensor, saved: torch.Tensor, upper: float | None
) -> torch.Tensor:
    """Gradient passed below a ReLU-family call under ``rule`` (a name or a
    :class:`BackwardRule`): see :meth:`BackwardRule.at_rectifier`. ``grad`` and ``saved``
    have the same shape; so does the result."""
    return rule_named(rule).at_rectifier(grad, saved, upper)
