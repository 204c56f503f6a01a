"""One recorded forward pass that serves any number of backward passes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gbp_widgets.engine.bitmask import PackedMask, pack
from gbp_widgets.engine.explanation import Explanation
from gbp_widgets.engine.guard import evaluation_mode
from gbp_widgets.engine.intercept import ReluCall, ReluInterceptor, RuleReLU
from gbp_widgets.engine.modules import CallNamer, OutputKeeper
from gbp_widgets.engine.rules import check_rule, packed_forward_mask
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
    ``site_grads`` maps site index to the gradient that arrived at its output,
    for recordings that keep values (empty otherwise).
    """

    input_grad: torch.Tensor
    extra_grads: tuple[torch.Tensor, ...]
    target: object
    sites: tuple[Site, ...]
    site_grads: dict[int, torch.Tensor]


class Recording:
    """A forward pass of ``model`` on ``inputs`` with every ReLU-family call intercepted.

    The autograd graph is kept, so :meth:`backprop` can run any rule from any
    target without another forward pass. ``inputs`` is a ``(N, C, H, W)`` float
    tensor already on the model's device. The model is in eval mode only while
    the forward pass runs; hooks live only during it. ``keep_outputs`` keeps
    every site's output, which :class:`Neuron` targets need; without it,
    outputs are freed as the backward pass goes, as in plain backprop.
    ``keep_values`` keeps each site's pre-activation input (``site_inputs``)
    and, per backward pass, the gradient at its output (``Backprop.site_grads``),
    for read-outs of the numbers behind the masks.
    """

    def __init__(
        self,
        model: nn.Module,
        inputs: torch.Tensor,
        capture_masks: bool = True,
        keep: tuple[str, ...] = (),
        keep_last_spatial: bool = False,
        keep_outputs: bool = True,
        keep_values: bool = False,
    ) -> None:
        self.capture_masks = capture_masks
        self.keep_outputs = keep_outputs
        self.keep_values = keep_values
        self.site_inputs: dict[int, torch.Tensor] = {}
        self.state = BackwardState()
        self.sites: list[SiteRecord] = []
        self.not_guided: list[NotGuided] = []
        self._namer = CallNamer(model)
        keeper = OutputKeeper(model, keep=keep, keep_last_spatial=keep_last_spatial)
        with torch.inference_mode(False), torch.enable_grad():
            self.input = inputs.detach().clone().requires_grad_(True)
            interceptor = ReluInterceptor(self._on_relu, self._on_uncovered)
            with evaluation_mode(model), keeper.active(), interceptor:
                # A clone, so a model that rectifies its input in place does not
                # write into the leaf that gradients are taken with respect to.
                self.logits = model(self.input.clone())
        self.kept = keeper.kept
        self.last_spatial = keeper.last_spatial
        _check_logits(self.logits)

    def _on_relu(self, call: ReluCall) -> torch.Tensor:
        index = len(self.sites)
        name = self._namer.next_name()
        shape = tuple(call.input.shape)
        if self.keep_values:
            # A copy: in-place calls overwrite their input.
            self.site_inputs[index] = call.input.detach().clone()
        out = RuleReLU.apply(call.input, call.upper, call.inplace, self.state, index)
        kept = out if self.keep_outputs else None
        # Packed now, while the output is still in cache: cheaper than in the backward.
        bits = packed_forward_mask(out, call.upper) if self.capture_masks else None
        self.sites.append(SiteRecord(index, name, call.kind, call.upper, shape, kept, bits))
        return out

    def _on_uncovered(self, kind: str) -> None:
        self.not_guided.append(NotGuided(self._namer.next_name(), kind))

    def backprop(
        self,
        target: Target = None,
        rule: str = "guided",
        extra: tuple[torch.Tensor, ...] = (),
        retain: bool = True,
    ) -> Backprop:
        """Backpropagate from ``target`` under ``rule`` to the input (and ``extra``).

        ``retain=False`` frees the graph as the pass goes (faster, less memory)
        and makes this the recording's last backward pass.
        """
        rule = check_rule(rule)
        roots, seeds, resolved = self._seed(target)
        self.state.rule = rule
        self.state.sink = {} if self.capture_masks else None
        self.state.grads = {} if self.keep_values else None
        try:
            with torch.inference_mode(False):
                grads = torch.autograd.grad(
                    roots, (self.input, *extra), seeds, retain_graph=retain, allow_unused=True
                )
            captured, site_grads = self.state.sink, self.state.grads
        finally:
            self.state.sink = self.state.grads = None
        grads = tuple(
            torch.zeros_like(t) if g is None else g
            for t, g in zip((self.input, *extra), grads, strict=True)
        )
        return Backprop(grads[0], grads[1:], resolved, self._sites(captured), site_grads or {})

    def explain(
        self, target: Target = None, rule: str = "guided", retain: bool = True
    ) -> Explanation:
        """Backpropagate from ``target`` under ``rule``: an :class:`Explanation` whose
        attribution is ``(N, C, H, W)`` on the model's device."""
        result = self.backprop(target, rule, retain=retain)
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
            if record.output is None:
                raise RuntimeError("Neuron targets need a recording made with keep_outputs=True")
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
            Site(
                r.name,
                r.kind,
                r.shape,
                (r.forward_bits,),
                (self._backward_bits(r, captured),),
            )
            for r in self.sites
        )

    def _backward_bits(self, record: SiteRecord, captured: dict) -> PackedMask:
        """The backward mask captured in the last pass; all off where no gradient arrived."""
        if record.index in captured:
            return captured[record.index]
        return pack(torch.zeros(record.shape, dtype=torch.bool, device=self.input.device))


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
