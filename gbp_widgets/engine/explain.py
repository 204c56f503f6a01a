"""The public engine: :class:`GuidedBackprop`."""

from __future__ import annotations

import torch
from torch import nn
from tqdm import tqdm

from gbp_widgets.engine.explanation import (
    Explanation,
    concatenate,
    warn_about_coverage,
    warn_about_scores,
)
from gbp_widgets.engine.gated import check_activations
from gbp_widgets.engine.guard import check_model, model_device_and_dtype
from gbp_widgets.engine.inputs import Inputs, PreparedInputs, prepare_inputs, split_batch, to_device
from gbp_widgets.engine.module_plan import Plans
from gbp_widgets.engine.outputs import OutputChoice
from gbp_widgets.engine.recording import Recording
from gbp_widgets.engine.rules import check_rule
from gbp_widgets.engine.targets import Neuron, Region, RegionPart, Target
from gbp_widgets.engine.token_targets import TokenTarget
from gbp_widgets.engine.tokens import check_embedding


class GuidedBackprop:
    """Gradients, DeconvNet and Guided Backprop for any PyTorch model.

    The model is never changed: hooks and the function mode exist only while a
    forward pass runs, the model is in eval mode only then, and gradients are
    taken with ``torch.autograd.grad`` so no ``.grad`` lands on its parameters.

    ``activations="relu"`` (the default) is the published method: its rules act
    at ReLU-family calls, and GELU, SiLU, Mish and Hardswish are backpropagated
    as plain gradients and listed in ``Explanation.not_guided``.
    ``activations="gated"`` is our extension, not the published method: each
    of those gated calls ``f(x) = x * s(x)`` is a site too, with the gate
    ``s(x)`` in ``[0, 1]`` as its (soft) forward mask; guided passes
    ``relu(g) * s(x)``, deconvnet ``relu(g)``, gradient the exact ``g * f'(x)``.
    At ReLU-family calls both settings give the same maps and masks, bit for bit.

    Token ids in: :meth:`explain` takes ``(N, T)`` integer ids too, and then
    attributes to the output of the embedding look-up that reads them
    (``(N, T, D)``). ``embedding`` names that ``nn.Embedding`` when more than one
    reads the ids; by default the one that does is found as the model runs.
    Position and token-type embeddings are not attributed.

    An engine learns its model: when a pass finds every site and report in an
    activation module (``nn.ReLU``, ``nn.GELU``, ...), later passes with inputs of the
    same shapes watch those modules only rather than every call, which costs less (see
    :mod:`gbp_widgets.engine.module_plan`). A model whose ``forward`` starts calling
    other functions for inputs of the same shapes (a flag it reads) needs a new engine.
    """

    def __init__(
        self, model: nn.Module, activations: str = "relu", embedding: nn.Module | None = None
    ) -> None:
        self.activations = check_activations(activations)
        self.model = check_model(model)
        self.embedding = check_embedding(self.model, embedding)
        # Learned from this engine's passes: see gbp_widgets.engine.module_plan.
        self._plans = Plans()

    def record(
        self,
        inputs: Inputs,
        capture_masks: bool = True,
        keep: tuple[str, ...] = (),
        keep_last_spatial: bool = False,
        keep_values: bool = False,
        output: OutputChoice = None,
        forward_args: tuple = (),
        forward_kwargs: dict | None = None,
    ) -> Recording:
        """Run one intercepted forward pass and keep its graph for many backward passes.

        ``inputs``: as for :meth:`explain`. ``keep`` names modules whose outputs
        to keep (``Recording.kept``); ``keep_values`` keeps the pre-activations
        and gradients at every site.
        """
        prepared = prepare_inputs(self.model, inputs)
        return Recording(
            self.model,
            prepared.tensors,
            capture_masks,
            keep,
            keep_last_spatial,
            keep_values=keep_values,
            output=output,
            forward_args=self._on_device(forward_args, "forward_args"),
            forward_kwargs=self._on_device(forward_kwargs or {}, "forward_kwargs"),
            activations=self.activations,
            embedding=self.embedding,
            plans=self._plans,
        )

    def explain(
        self,
        inputs: Inputs,
        target: Target = None,
        rule: str = "guided",
        capture_masks: bool = True,
        batch_size: int | None = None,
        output: OutputChoice = None,
        forward_args: tuple = (),
        forward_kwargs: dict | None = None,
    ) -> Explanation:
        """Attribute ``target`` to ``inputs`` under ``rule``.

        ``inputs``: a ``(N, ...)`` float tensor of rank >= 2 (images, signals
        ``(N, C, L)``, volumes, tabular ``(N, F)``), one ``(C, H, W)`` image for
        a model that starts with a 2-D convolution, or a tuple of tensors with
        the same ``N``, all attributed; on any device (moved to the model's).
        Or ``(N, T)`` integer token ids: the attribution is then ``(N, T, D)``,
        at the embedding's output (:meth:`Explanation.token_scores` makes it one
        score per token), and an ``attention_mask=`` in ``forward_kwargs`` must
        have the ids' shape.
        ``forward_args`` / ``forward_kwargs`` go to ``forward`` after them,
        unattributed. ``output`` chooses the scores from what ``forward``
        returns: ``None`` (a tensor, or its ``logits`` / ``out`` entry), a key,
        an index or a callable.

        ``target``: ``None`` for each item's predicted class, an int, one int
        per item, a :class:`Region` of a dense ``(N, K, *spatial)`` output, a
        :class:`TokenTarget` of a sequence output ``(N, T, V)`` (the default
        for one over token ids: the next token predicted after the last kept
        position), a :class:`Neuron` at a site or module, or a callable that takes the
        chosen output (anything, unchecked) and returns ``(N,)`` scores.
        ``rule``: ``"gradient"``, ``"deconvnet"`` or ``"guided"``.
        ``batch_size`` splits the batch into chunks of at most that many items,
        each its own forward and backward pass, so activation memory is bounded
        by the chunk; tensors in the forward arguments with batch dimension
        ``N`` are split with it.
        """
        check_rule(rule)
        prepared = prepare_inputs(self.model, inputs)
        sizes = _chunk_sizes(prepared.batch, batch_size)
        chunks = self._chunks(prepared, sizes, forward_args, forward_kwargs or {})
        targets = _split_target(target, prepared.batch, sizes)
        # One backward pass per recording, so the graph is freed as it runs (as
        # plain backprop does) and site outputs are kept only for neuron targets.
        neuron = isinstance(target, Neuron)
        keep = (target.site,) if neuron and target.at_module else ()
        parts = [
            Recording(
                self.model,
                tensors,
                capture_masks,
                keep=keep,
                keep_outputs=neuron,
                output=output,
                forward_args=args,
                forward_kwargs=kwargs,
                activations=self.activations,
                embedding=self.embedding,
                plans=self._plans,
            ).explain(chunk_target, rule, retain=False)
            for (tensors, args, kwargs), chunk_target in tqdm(
                list(zip(chunks, targets, strict=True)),
                disable=len(chunks) == 1,
                desc="explain",
                unit="chunk",
            )
        ]
        explanation = parts[0] if len(parts) == 1 else concatenate(parts)
        warn_about_coverage(explanation)
        warn_about_scores(explanation)
        grads = explanation.attribution
        grads = grads if isinstance(grads, tuple) else (grads,)
        return explanation.replace(attribution=prepared.as_given(grads))

    def _chunks(
        self, prepared: PreparedInputs, sizes: list[int], args: tuple, kwargs: dict
    ) -> list[tuple[tuple[torch.Tensor, ...], tuple, dict]]:
        n = prepared.batch
        args = self._on_device(args, "forward_args")
        kwargs = self._on_device(kwargs, "forward_kwargs")
        tensors = list(zip(*(split_batch(t, n, sizes) for t in prepared.tensors), strict=True))
        arg_chunks = list(zip(*(split_batch(a, n, sizes) for a in args), strict=True)) or [
            ()
        ] * len(sizes)
        kwarg_chunks = [{} for _ in sizes]
        for key, value in kwargs.items():
            for chunk, part in zip(kwarg_chunks, split_batch(value, n, sizes), strict=True):
                chunk[key] = part
        return list(zip(tensors, arg_chunks, kwarg_chunks, strict=True))

    def _on_device(self, values, name: str):
        """``forward_args`` (a tuple or list) or ``forward_kwargs`` (a dict) as a tuple or
        dict on the model's device."""
        device, _ = model_device_and_dtype(self.model)
        if name == "forward_kwargs":
            if not isinstance(values, dict):
                raise TypeError(
                    "forward_kwargs must be a dict of keyword arguments for forward, got "
                    f"{type(values).__name__}; pass positional extras with forward_args=(...)"
                )
            return {k: to_device(v, device) for k, v in values.items()}
        if not isinstance(values, (tuple, list)):
            raise TypeError(
                f"forward_args must be a tuple of extra arguments, got {type(values).__name__}; "
                "write one extra argument as (value,)"
            )
        return tuple(to_device(v, device) for v in values)


def _chunk_sizes(n: int, batch_size: int | None) -> list[int]:
    if batch_size is None:
        return [n]
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    return [min(batch_size, n - start) for start in range(0, n, batch_size)]


def _split_target(target: Target, n: int, sizes: list[int]) -> list[Target]:
    """Per-chunk targets: per-item class lists and per-item region masks are sliced,
    anything else is shared."""
    if len(sizes) == 1 or target is None or isinstance(target, (int, Neuron)) or callable(target):
        return [target] * len(sizes)
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    chunks = [slice(a, a + size) for a, size in zip(starts, sizes, strict=True)]
    if isinstance(target, Region):
        return [RegionPart(target, chunk) for chunk in chunks]
    if isinstance(target, TokenTarget):
        return [target.items(chunk) for chunk in chunks]
    try:
        items = torch.as_tensor(target)
    except (TypeError, ValueError, RuntimeError):
        items = None
    if items is None or items.dim() != 1 or items.numel() != n:
        return [target] * len(sizes)  # invalid: the resolver explains what is wrong
    return list(items.split(sizes))
