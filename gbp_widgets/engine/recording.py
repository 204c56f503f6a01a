"""One recorded forward pass that serves any number of backward passes."""

from __future__ import annotations

from contextlib import ExitStack

import torch
from torch import nn

from gbp_widgets.engine.bitmask import PackedMask, pack
from gbp_widgets.engine.explanation import Explanation
from gbp_widgets.engine.failures import FirstLayerCall, failure_hint
from gbp_widgets.engine.gate_modules import GateModules
from gbp_widgets.engine.gated import GATED, GatedCall, RuleGate, check_activations
from gbp_widgets.engine.guard import eager_only, evaluation_mode, model_lock
from gbp_widgets.engine.intercept import ReluInterceptor
from gbp_widgets.engine.module_plan import (
    ModulePlan,
    Plans,
    Seen,
    StalePlan,
    learn_plan,
    planned_pass,
    signature,
)
from gbp_widgets.engine.modules import CallNamer, OutputKeeper
from gbp_widgets.engine.outputs import OutputChoice, OutputError, choose_output, detached
from gbp_widgets.engine.rectifier import RuleReLU
from gbp_widgets.engine.rules import BackwardRule, packed_forward_mask, rule_named
from gbp_widgets.engine.sites import Backprop, BackwardState, NotGuided, Site, SiteRecord
from gbp_widgets.engine.spellings import ReluCall
from gbp_widgets.engine.targets import (
    Neuron,
    Target,
    callable_scores,
    find_site,
    neuron_seed,
    score_seed,
)
from gbp_widgets.engine.token_targets import TokenTarget, is_sequence_output, token_seed
from gbp_widgets.engine.tokens import (
    EmbeddingTap,
    check_attention_mask,
    is_token_ids,
    last_kept,
)


class Recording:
    """A forward pass of ``model`` on ``inputs`` with every ReLU-family call intercepted.

    The autograd graph is kept, so :meth:`backprop` can run any rule from any
    target without another forward pass. ``inputs`` is a ``(N, ...)`` float
    tensor, or a tuple of them, already on the model's device;
    ``forward_args`` and ``forward_kwargs`` go to ``forward`` after them,
    unattributed. ``output`` chooses the scores from what ``forward`` returns
    (see :func:`gbp_widgets.engine.outputs.choose_output`).

    The model is in eval mode only while the forward pass runs, which holds
    the model's lock; hooks live only during it. ``keep_outputs`` keeps every
    site's output, which :class:`Neuron` targets at sites need; without it,
    outputs are freed as the backward pass goes, as in plain backprop.
    ``keep`` names modules whose outputs to keep (``kept``), as they were
    when the module returned them. ``keep_values`` keeps each site's
    pre-activation input (``site_inputs``) and, per backward pass, the
    gradient at its output (``Backprop.site_grads``), for read-outs.
    ``activations="gated"`` makes gated calls (GELU, SiLU, Mish, Hardswish)
    sites too (see :mod:`gbp_widgets.engine.gated`); ``"relu"`` reports them.

    ``inputs`` may instead be ``(N, T)`` integer token ids: then the output of the
    embedding look-up that reads them, ``(N, T, D)``, is the input attributed
    (``inputs``, ``embedded``; see :mod:`gbp_widgets.engine.tokens`), chosen by
    ``embedding`` (a module of ``model``) when more than one look-up reads them.

    ``plans`` (an engine's :class:`~gbp_widgets.engine.module_plan.Plans`) lets a pass
    watch only the model's activation modules instead of every call, where a pass with
    inputs of the same signature found every site and report in one (see
    :mod:`gbp_widgets.engine.module_plan`); the sites, masks and reports are the same.
    """

    def __init__(
        self,
        model: nn.Module,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        capture_masks: bool = True,
        keep: tuple[str, ...] = (),
        keep_last_spatial: bool = False,
        keep_outputs: bool = True,
        keep_values: bool = False,
        output: OutputChoice = None,
        forward_args: tuple = (),
        forward_kwargs: dict | None = None,
        activations: str = "relu",
        embedding: nn.Module | None = None,
        plans: Plans | None = None,
    ) -> None:
        self.activations = check_activations(activations)
        self.capture_masks = capture_masks
        self.keep_outputs = keep_outputs
        self.keep_values = keep_values
        self.site_inputs: dict[int, torch.Tensor] = {}
        self.state = BackwardState()
        self.sites: list[SiteRecord] = []
        self.not_guided: list[NotGuided] = []
        self._modules = tuple(model.named_modules())
        self._keeping = keep, keep_last_spatial
        self._restart(model)
        given = inputs if isinstance(inputs, tuple) else (inputs,)
        forward_kwargs = forward_kwargs or {}
        #: The ``(N, T)`` token ids when those were given, else ``None``.
        self.token_ids = given[0] if is_token_ids(given[0]) else None
        if self.token_ids is not None:
            check_attention_mask(self.token_ids, forward_kwargs)
        self._forward_kwargs = forward_kwargs
        self._tap = EmbeddingTap(self.token_ids, embedding, self._modules)
        with torch.inference_mode(False), torch.enable_grad():
            self.inputs = (
                given
                if self.token_ids is not None
                else tuple(t.detach().clone().requires_grad_(True) for t in given)
            )
            self.raw_output = self._run(model, forward_args, forward_kwargs, plans)
        if self.token_ids is not None:
            self.inputs = (self._tap.leaf(),)
        self.kept = self._keeper.kept
        self.last_spatial = self._keeper.last_spatial
        self.logits, self._output_error = _chosen(self.raw_output, output)

    def _restart(self, model: nn.Module) -> None:
        """Nothing seen yet: before the pass, and again after a planned one is discarded."""
        self.site_inputs.clear()
        self.sites.clear()
        self.not_guided.clear()
        self._namer = CallNamer(model, self._modules)
        keep, last = self._keeping
        self._keeper = OutputKeeper(self._modules, keep=keep, keep_last_spatial=last)

    def _run(self, model: nn.Module, args: tuple, kwargs: dict, plans: Plans | None) -> object:
        """The forward pass: planned where this input signature has a plan, else watching
        every call (and learning the plan the pass shows)."""
        key = None
        # Token ids need the mode everywhere: it finds the embedding that reads them.
        if plans is not None and self.token_ids is None:
            key = signature(self.inputs, args, kwargs)
        plan = None if key is None else plans.get(key)
        if plan is not None:
            try:
                output = self._forward(model, args, kwargs, plan)
                if self._seen() != plan.seen:
                    raise StalePlan("the pass saw other sites or reports than its plan")
                return output
            except (RuntimeError, ValueError, IndexError):
                # A stale plan, or a failure: the pass with the mode finds the sites, or
                # says what failed with its hint.
                self._restart(model)
        output = self._forward(model, args, kwargs)
        if key is not None:
            learned = learn_plan(dict(self._modules), self._seen())
            # A plan its own signature's pass disproved is not tried again.
            plans.put(key, None if plan is not None and learned == plan else learned)
        return output

    def _seen(self) -> Seen:
        return (
            tuple((r.name, r.kind) for r in self.sites),
            tuple((r.name, r.kind) for r in self.not_guided),
        )

    def _forward(
        self, model: nn.Module, args: tuple, kwargs: dict, plan: ModulePlan | None = None
    ) -> object:
        # Clones, so a model that rectifies its input in place does not write
        # into the leaves that gradients are taken with respect to (ids are read only).
        copies = [t if self.token_ids is not None else t.clone() for t in self.inputs]
        watch = FirstLayerCall(self._modules)
        try:
            modules = (module for _, module in self._modules)
            with model_lock(model), evaluation_mode(modules), self._keeper.active(), eager_only():
                with self._watching(plan, watch):
                    return model(*copies, *args, **kwargs)
        except (RuntimeError, ValueError, IndexError) as err:
            if plan is not None:
                raise
            hint = failure_hint(err, model, self.inputs, watch.first)
            if hint:
                raise ValueError(f"the model could not run on these inputs: {hint}") from err
            raise

    def _watching(self, plan: ModulePlan | None, watch: FirstLayerCall) -> ExitStack:
        """What sees the calls: the plan's modules, or the mode and the gate modules (with
        the first layer watched, for a failure's hint)."""
        stack = ExitStack()
        gated = self._on_gated if self.activations == GATED else None
        interceptor = ReluInterceptor(self._on_relu, self._on_uncovered, gated, self._tap)
        if plan is not None:
            stack.enter_context(planned_pass(plan, interceptor, self._on_relu))
            return stack
        stack.enter_context(watch.watching())
        stack.enter_context(GateModules(self._modules, self.sites, self.not_guided, gated).active())
        stack.enter_context(interceptor)
        return stack

    @property
    def input(self) -> torch.Tensor:
        """The first (usually only) input leaf, ``(N, ...)``."""
        return self.inputs[0]

    @property
    def last_spatial_changed(self) -> bool:
        """Whether :attr:`last_spatial`'s tensor was edited in place after its module
        returned it (then Grad-CAM must keep that module explicitly)."""
        return self._keeper.last_spatial_changed

    def _on_relu(self, call: ReluCall, path: str | None = None) -> torch.Tensor:
        """A rectifier call made a site; ``path``: the module making it, where known."""
        index = len(self.sites)
        name = self._namer.next_name() if path is None else self._namer.name_in(path)
        shape = tuple(call.input.shape)
        if self.keep_values:
            # A copy: in-place calls overwrite their input.
            self.site_inputs[index] = call.input.detach().clone()
        out = RuleReLU.apply(
            call.input, call.upper, call.inplace, call.saves_output, self.state, index
        )
        kept = out if self.keep_outputs else None
        # Packed now, while the output is still in cache: cheaper than in the backward.
        bits = packed_forward_mask(out, call.upper) if self.capture_masks else None
        self.sites.append(SiteRecord(index, name, call.kind, call.upper, shape, kept, bits))
        return out

    def _on_gated(self, call: GatedCall, report: NotGuided | None) -> torch.Tensor:
        """A gated call made a site; ``x * sigmoid(x)`` written out takes the name its
        sigmoid was reported under, and the report is withdrawn."""
        index = len(self.sites)
        if report is None:
            name = self._namer.next_name()
        else:
            name = report.name
            self.not_guided.remove(report)
        x = call.input
        # Before the call runs: an in-place one overwrites its input.
        if self.keep_values:
            self.site_inputs[index] = x.detach().clone()
        shape = tuple(x.shape)
        gates: list[torch.Tensor] = []
        out = RuleGate.apply(x, call.sigmoid, call, self.state, index, gates)
        kept = out if self.keep_outputs else None
        gate = gates[0] if self.capture_masks else None
        record = SiteRecord(index, name, call.gate.kind, None, shape, kept, gate, call.gate)
        self.sites.append(record)
        return out

    def _on_uncovered(self, kind: str) -> NotGuided:
        report = NotGuided(self._namer.next_name(), kind)
        self.not_guided.append(report)
        return report

    def backprop(
        self,
        target: Target = None,
        rule: str | BackwardRule = "guided",
        extra: tuple[torch.Tensor, ...] = (),
        retain: bool = True,
    ) -> Backprop:
        """Backpropagate from ``target`` under ``rule`` to the inputs (and ``extra``).

        ``retain=False`` frees the graph as the pass goes (faster, less memory)
        and makes this the recording's last backward pass.
        """
        chosen = rule_named(rule)
        roots, seeds, resolved = self._seed(target)
        self.state.rule = chosen
        self.state.sink = {} if self.capture_masks else None
        self.state.grads = {} if self.keep_values else None
        wrt = (*self.inputs, *extra)
        try:
            with torch.inference_mode(False):
                grads = torch.autograd.grad(
                    roots, wrt, seeds, retain_graph=retain, allow_unused=True
                )
            captured, site_grads = self.state.sink, self.state.grads
        finally:
            self.state.sink = self.state.grads = None
        grads = tuple(
            torch.zeros_like(t) if g is None else g for t, g in zip(wrt, grads, strict=True)
        )
        count = len(self.inputs)
        return Backprop(
            grads[:count], grads[count:], resolved, self._sites(captured), site_grads or {}
        )

    def explain(
        self, target: Target = None, rule: str | BackwardRule = "guided", retain: bool = True
    ) -> Explanation:
        """Backpropagate from ``target`` under ``rule``: an :class:`Explanation` whose
        attribution is the ``(N, ...)`` input gradient on the model's device (a tuple
        when the recording has several inputs)."""
        return self.explanation(self.backprop(target, rule, retain=retain), rule)

    def explanation(self, result: Backprop, rule: str | BackwardRule) -> Explanation:
        """The :class:`Explanation` of a backward pass ``result`` made under ``rule``:
        what :meth:`explain` returns, for callers that also need ``result.site_grads``."""
        grads = result.input_grads
        return Explanation(
            attribution=grads if len(grads) > 1 else grads[0],
            logits=detached(self.raw_output if self.logits is None else self.logits),
            target=result.target,
            rule=rule_named(rule).name,
            sites=result.sites,
            not_guided=tuple(self.not_guided),
            activations=self.activations,
            embedded=None if self.token_ids is None else self.input.detach(),
            token_ids=self.token_ids,
        )

    def _seed(self, target: Target):
        if isinstance(target, Neuron):
            output, where = self._neuron_output(target)
            return (output,), (neuron_seed(output, target, where),), target
        n = self.input.shape[0]
        if callable(target) and not isinstance(target, torch.Tensor):
            chosen = self.raw_output if self.logits is None else self.logits
            with torch.inference_mode(False), torch.enable_grad():
                scores = callable_scores(target, chosen, n)
            return (scores,), (torch.ones_like(scores),), target
        scores = self._scores(n)
        if isinstance(target, TokenTarget) or (
            target is None and is_sequence_output(scores, self.token_ids)
        ):
            ids = self.token_ids
            last = None if ids is None else last_kept(ids, self._forward_kwargs)
            seed, resolved = token_seed(target or TokenTarget(), scores.detach(), last)
            return (scores,), (seed,), resolved
        seed, resolved = score_seed(target, scores.detach())
        return (scores,), (seed,), resolved

    def _scores(self, n: int) -> torch.Tensor:
        if self.logits is None:
            raise self._output_error
        if self.logits.dim() == 0 or self.logits.shape[0] != n:
            raise OutputError(
                f"the chosen output has shape {tuple(self.logits.shape)}, but there are {n} "
                "inputs: class targets need scores (N, classes, ...) with one row per item. "
                "Choose another output with output=, or score it with a callable target"
            )
        return self.logits

    def _neuron_output(self, neuron: Neuron) -> tuple[torch.Tensor, str]:
        if neuron.at_module:
            output = self.kept.get(neuron.site)
            if output is None:
                raise KeyError(
                    f"no output of module {neuron.site!r} was kept: it is not a module of this "
                    "model, returned no tensor, or the recording was made without "
                    f"keep=({neuron.site!r},)"
                )
            return output, f"module {neuron.site!r}"
        record = find_site(self.sites, neuron.site)
        if record.output is None:
            raise RuntimeError("Neuron targets need a recording made with keep_outputs=True")
        return record.output, f"site {record.name!r}"

    def _sites(self, captured: dict | None) -> tuple[Site, ...]:
        if captured is None:
            return tuple(Site(r.name, r.kind, r.shape, soft=r.gate is not None) for r in self.sites)
        return tuple(
            Site(
                r.name,
                r.kind,
                r.shape,
                (r.forward_part,),
                (self._backward_bits(r, captured),),
                soft=r.gate is not None,
            )
            for r in self.sites
        )

    def _backward_bits(self, record: SiteRecord, captured: dict) -> PackedMask:
        """The backward mask captured in the last pass; all off where no gradient arrived."""
        if record.index in captured:
            return captured[record.index]
        return pack(torch.zeros(record.shape, dtype=torch.bool, device=self.input.device))


def _chosen(raw: object, choice: OutputChoice) -> tuple[torch.Tensor | None, OutputError | None]:
    """The chosen score tensor, or (when nothing was chosen explicitly) the reason there
    is none: a callable target may still score the raw output."""
    try:
        return choose_output(raw, choice), None
    except OutputError as err:
        if choice is not None:
            raise
        return None, err
