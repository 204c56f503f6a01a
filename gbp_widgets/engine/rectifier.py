"""A rectifier call made a site: its output as plain PyTorch makes it, its backward the rule
current at backward time."""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from gbp_widgets.engine.rules import forward_mask
from gbp_widgets.engine.sites import BackwardState


class RuleReLU(torch.autograd.Function):
    """ReLU / clamp(0, k) whose backward applies the rule current at backward time.

    Code that edits a tensor in place after the call runs exactly when it runs
    without the engine: like plain PyTorch, it saves the output of ``relu`` and
    ``relu_`` (whose backward breaks when the output is edited later) and the
    input of other out-of-place calls; the other in-place calls (``clamp_``,
    ``hardtanh_``, ``threshold_``, ``relu6(inplace=True)``) keep their forward
    mask, which no later edit of the output or its base can touch.
    """

    @staticmethod
    def forward(ctx, x, upper, inplace, saves_output, state, index):
        if inplace:
            out = x.relu_() if upper is None else x.clamp_(0.0, upper)
            ctx.mark_dirty(x)
        else:
            out = x.relu() if upper is None else x.clamp(0.0, upper)
        # Each gives the forward mask: x>0 exactly when y>0, 0<x<k exactly when 0<y<k.
        if saves_output:
            ctx.save_for_backward(out)
        elif inplace:
            ctx.save_for_backward(forward_mask(out, upper))
        else:
            ctx.save_for_backward(x)
        ctx.upper, ctx.state, ctx.index = upper, state, index
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (saved,) = ctx.saved_tensors
        state: BackwardState = ctx.state
        state.observe(ctx.index, grad)
        return state.rule.at_rectifier(grad, saved, ctx.upper), None, None, None, None, None
