"""One recorded forward pass that serves any number of backward passes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
from torch import nn

from gbp_widgets.engine.bitmask import pack
from gbp_widgets.engine.explanation import Explanation
from gbp_widgets.engine.guard import evaluation_mode
from gbp_widgets.engine.intercept import ReluCall, ReluInterceptor, RuleReLU
from gbp_widgets.engine.modules import ModuleTracker
from gbp_widgets.engine.rules import check_rule, forward_mask
from gbp_widgets.engine.sites import BackwardState, NotGuided, Site, SiteRecord
from gbp_widgets.engine.targets import (
    Neuron,
    Target,
    callable_scores,
    class_targets,
    find_site,
    neuron_seed,
)


@dataclass(frozen=True)
class Backprop:
    """Result of one backward pass over a :class:`Recording`.

    ``input_grad`` has the recording's input shape ``(N, C, H, W)``;
    ``extra_grads`` follow the order of the tensors asked for; ``target`` is
    the resolved ``(N,)`` class tensor, the :class:`Neuron`, or the callable.
    """

    input_grad: torch.Tensor
    extra_grads: tuple[torch.Tensor, ...]
    target: object
    sites: tuple[Site, ...]


class Recording:
    """A forward pass of ``model`` on ``inputs`` with every ReLU-family call intercepted.

    The autograd graph is kept, so :meth:`backprop` can run any rule from any
    target without another forward pass. ``inputs`` is a ``(N, C, H, W)`` float
    tensor already on the model's device. The model is in eval mode only while
    the forward pass runs; hooks live only during it.
    """

    def __init__(
        self,
        model: nn.Module,
        inputs: torch.Tensor,
        capture_masks: bool = True,
        keep: tuple[str, ...] = (),
        keep_last_spatial: bool = False,
    ) -> None:
        self.capture_masks = capture_masks
        self.state = BackwardState()
        self.sites: list[SiteRecord] = []
        self.not_guided: list[NotGuided] = []
        self._uncovered_calls: Counter[str] = Counter()
        tracker = ModuleTracker(model, keep=keep, keep_last_spatial=keep_last_spatial)
        self._tracker = tracker
        with torch.inference_mode(False), torch.enable_grad():
            self.input = inputs.detach().clone().requires_grad_(True)
            interceptor = ReluInterceptor(self._on_relu, self._on_uncovered)
            with evaluation_mode(model), tracker.active(), interceptor:
                # A clone, so a model that rectifies its input in place does not
                # write into the leaf that gradients are taken with respect to.
                self.logits = model(self.input.clone())
        self.kept = dict(tracker.kept)
        self.last_spatial = tracker.last_spatial
        self._tracker = None
        _check_logits(self.logits)

    def _on_relu(self, call: ReluCall) -> torch.Tensor:
        index = len(self.sites)
        name = self._tracker.next_call_name()
        shape = tuple(call.input.shape)
        out = RuleReLU.apply(call.input, call.upper, call.inplace, self.state, index)
        bits = pack(forward_mask(out.detach(), call.upper)) if self.capture_masks else None
        self.sites.append(SiteRecord(index, name, call.kind, call.upper, shape, out, bits))
        return out

    def _on_uncovered(self, kind: str) -> None:
        self.not_guided.append(NotGuided(self._tracker.next_call_name(), kind))

    def backprop(
        self,
        target: Target = None,
        rule: str = "guided",
        extra: tuple[torch.Tensor, ...] = (),
    ) -> Backprop:
        """Backpropagate from ``target`` under ``rule`` to the input (and ``extra``)."""
        rule = check_rule(rule)
        roots, seeds, resolved = self._seed(target)
        self.state.rule = rule
        self.state.sink = {} if self.capture_masks else None
        try:
            with torch.inference_mode(False):
                grads = torch.autograd.grad(
                    roots, (self.input, *extra), seeds, retain_graph=True, allow_unused=True
                )
            captured = self.state.sink
        finally:
            self.state.sink = None
        grads = tuple(
            torch.zeros_like(t) if g is None else g
            for t, g in zip((self.input, *extra), grads, strict=True)
        )
        return Backprop(grads[0], grads[1:], resolved, self._sites(captured))

    def explain(self, target: Target = None, rule: str = "guided") -> Explanation:
        """Backpropagate from ``target`` under ``rule``: an :class:`Explanation` whose
        attribution is ``(N, C, H, W)`` on the model's device."""
        result = self.backprop(target, rule)
        return Explanation(
            attribution=result.input_grad,
            logits=self.logits.detach(),
            target=result.target,
            rule=rule,
            sites=result.sites,
            not_guided=tuple(self.not_guided),
        )

    def _seed(self, target: Target):
        if isinstance(target, Neuron):
            record = find_site(self.sites, target.site)
            return (record.output,), (neuron_seed(record, target),), target
        if callable(target) and not isinstance(target, torch.Tensor):
            with torch.inference_mode(False), torch.enable_grad():
                scores = callable_scores(target, self.logits)
            return (scores,), (torch.ones_like(scores),), target
        classes = class_targets(target, self.logits.detach())
        seed = torch.zeros_like(self.logits)
        seed.scatter_(1, classes[:, None], 1.0)
        return (self.logits,), (seed,), classes

    def _sites(self, captured: dict | None) -> tuple[Site, ...]:
        if captured is None:
            return tuple(Site(r.name, r.kind, r.shape) for r in self.sites)
        return tuple(
            Site(r.name, r.kind, r.shape, (r.forward_bits,), (captured.get(r.index),))
            for r in self.sites
        )


def _check_logits(logits: object) -> None:
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
        got = (
            f"a tensor of shape {tuple(logits.shape)}"
            if isinstance(logits, torch.Tensor)
            else type(logits).__name__
        )
        raise TypeError(
            f"the model returned {got}; the engine needs (N, classes) logits. Wrap the "
            "model in a module whose forward returns them."
        )
