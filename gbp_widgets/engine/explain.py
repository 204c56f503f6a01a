"""The public engine: :class:`GuidedBackprop`."""

from __future__ import annotations

import torch
from torch import nn
from tqdm import tqdm

from gbp_widgets.engine.explanation import Explanation, concatenate, warn_about_coverage
from gbp_widgets.engine.guard import check_model, expected_channels, model_device_and_dtype
from gbp_widgets.engine.recording import Recording
from gbp_widgets.engine.rules import check_rule
from gbp_widgets.engine.targets import Neuron, Target


class GuidedBackprop:
    """Gradients, DeconvNet and Guided Backprop for any PyTorch image model.

    The model is never changed: hooks and the function mode exist only while a
    forward pass runs, the model is in eval mode only then, and gradients are
    taken with ``torch.autograd.grad`` so no ``.grad`` lands on its parameters.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = check_model(model)

    def record(
        self,
        inputs: torch.Tensor,
        capture_masks: bool = True,
        keep: tuple[str, ...] = (),
        keep_last_spatial: bool = False,
        keep_values: bool = False,
    ) -> Recording:
        """Run one intercepted forward pass and keep its graph for many backward passes.

        ``inputs``: ``(N, C, H, W)`` or ``(C, H, W)`` float tensor on any device.
        ``keep`` names modules whose outputs to keep (``Recording.kept``);
        ``keep_values`` keeps the pre-activations and gradients at every site.
        """
        return Recording(
            self.model,
            self.prepare(inputs),
            capture_masks,
            keep,
            keep_last_spatial,
            keep_values=keep_values,
        )

    def explain(
        self,
        inputs: torch.Tensor,
        target: Target = None,
        rule: str = "guided",
        capture_masks: bool = True,
        batch_size: int | None = None,
    ) -> Explanation:
        """Attribute ``target`` to ``inputs`` under ``rule``.

        ``inputs``: ``(N, C, H, W)`` float tensor, or one ``(C, H, W)`` image,
        on any device (moved to the model's). ``target``: ``None`` for each
        item's predicted class, an int, one int per item, a :class:`Neuron`, or
        a callable ``logits -> (N,)`` scores. ``rule``: ``"gradient"``,
        ``"deconvnet"`` or ``"guided"``. ``batch_size`` splits the batch into
        chunks of at most that many items, each its own forward and backward
        pass, so activation memory is bounded by the chunk.
        """
        check_rule(rule)
        prepared = self.prepare(inputs)
        chunks = _split(prepared, batch_size)
        targets = _split_target(target, prepared.shape[0], [len(c) for c in chunks])
        # One backward pass per recording, so the graph is freed as it runs (as
        # plain backprop does) and site outputs are kept only for neuron targets.
        neuron = isinstance(target, Neuron)
        parts = [
            Recording(self.model, chunk, capture_masks, keep_outputs=neuron).explain(
                chunk_target, rule, retain=False
            )
            for chunk, chunk_target in tqdm(
                list(zip(chunks, targets, strict=True)),
                disable=len(chunks) == 1,
                desc="explain",
                unit="chunk",
            )
        ]
        explanation = parts[0] if len(parts) == 1 else concatenate(parts)
        warn_about_coverage(explanation)
        attribution = explanation.attribution.to(inputs.device, inputs.dtype)
        return explanation.replace(attribution=attribution[0] if inputs.dim() == 3 else attribution)

    def prepare(self, inputs: torch.Tensor) -> torch.Tensor:
        """Validate ``inputs`` and return them as ``(N, C, H, W)`` on the model's device."""
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(
                f"inputs must be a torch.Tensor of shape (N, C, H, W), got "
                f"{type(inputs).__name__}; convert images with the model's preprocessing"
            )
        if inputs.dim() not in (3, 4):
            raise ValueError(
                f"inputs must have shape (N, C, H, W) or (C, H, W); got {inputs.dim()} "
                f"dimensions {tuple(inputs.shape)}"
            )
        if not inputs.is_floating_point():
            raise TypeError(
                f"inputs must be a float tensor, got {inputs.dtype}: scale and normalise "
                "images with the model's preprocessing first"
            )
        batch = inputs if inputs.dim() == 4 else inputs.unsqueeze(0)
        if batch.shape[0] == 0:
            raise ValueError("inputs is an empty batch (N = 0): give at least one image")
        channels = expected_channels(self.model)
        if channels is not None and batch.shape[1] != channels:
            raise ValueError(
                f"inputs have {batch.shape[1]} channels but the model's first convolution "
                f"expects {channels}: convert the images (e.g. grayscale to RGB) to match"
            )
        if not torch.isfinite(batch).all():
            raise ValueError("inputs contain NaN or infinite values: clean the images first")
        device, dtype = model_device_and_dtype(self.model)
        return batch.to(device=device, dtype=dtype)


def _split(batch: torch.Tensor, batch_size: int | None) -> list[torch.Tensor]:
    if batch_size is None:
        return [batch]
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    return list(batch.split(batch_size))


def _split_target(target: Target, n: int, sizes: list[int]) -> list[Target]:
    """Per-chunk targets: per-item class lists are sliced, anything else is shared."""
    if len(sizes) == 1 or target is None or isinstance(target, (int, Neuron)) or callable(target):
        return [target] * len(sizes)
    try:
        items = torch.as_tensor(target)
    except (TypeError, ValueError, RuntimeError):
        items = None
    if items is None or items.dim() != 1 or items.numel() != n:
        return [target] * len(sizes)  # invalid: the resolver explains what is wrong
    return list(items.split(sizes))
