"""The tensors to attribute: checked, batched and moved to the model, and split into chunks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gbp_widgets.engine.guard import model_device_and_dtype
from gbp_widgets.engine.tokens import check_token_ids, is_token_ids

Inputs = torch.Tensor | tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class PreparedInputs:
    """What :meth:`GuidedBackprop.explain` attributes, ready for the model.

    ``tensors``: one or more ``(N, ...)`` float tensors on the model's device
    and in its dtype, all with the same ``N``. ``unbatched``: the user gave one
    ``(C, H, W)`` image, so attributions lose their batch dimension again.
    ``given``: the tensors as the user gave them (their device and dtype are
    the attributions'); ``as_tuple``: whether they came as a tuple. Token ids
    ``(N, T)`` keep their integer dtype; their attributions ``(N, T, D)`` keep the
    model's float dtype, on the ids' device.
    """

    tensors: tuple[torch.Tensor, ...]
    given: tuple[torch.Tensor, ...]
    unbatched: bool
    as_tuple: bool

    @property
    def batch(self) -> int:
        """``N``, the number of items."""
        return self.tensors[0].shape[0]

    def as_given(self, grads: tuple[torch.Tensor, ...]) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Attributions ``(N, ...)`` in the shape, device and dtype of what was given."""
        restored = tuple(
            (grad[0] if self.unbatched else grad).to(
                given.device, grad.dtype if is_token_ids(given) else given.dtype
            )
            for grad, given in zip(grads, self.given, strict=True)
        )
        return restored if self.as_tuple else restored[0]


def first_layer(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The first convolution or linear layer registered in ``model``, with its path."""
    for path, module in model.named_modules():
        if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
            return path, module
    return None


def prepare_inputs(model: nn.Module, inputs: Inputs) -> PreparedInputs:
    """Check ``inputs`` (a float tensor ``(N, ...)`` of rank >= 2, or a tuple of them
    with one ``N``) and return them batched on the model's device and dtype.

    A 3-D tensor is one unbatched image only for a model whose first layer is
    a 2-D convolution; otherwise dimension 0 is the batch. Whether the model
    can take them is not guessed here: the forward pass tells
    (:mod:`gbp_widgets.engine.failures`).
    """
    as_tuple = isinstance(inputs, tuple)
    given = inputs if as_tuple else (inputs,)
    if not given:
        raise ValueError("inputs is an empty tuple: give at least one tensor to attribute")
    if is_token_ids(given[0]) and not as_tuple:
        return _prepared_ids(model, given[0])
    for position, tensor in enumerate(given):
        _check_tensor(tensor, f"inputs[{position}]" if as_tuple else "inputs")
    # The module walk only where it decides something.
    unbatched = not as_tuple and given[0].dim() == 3 and _is_conv(first_layer(model), 2)
    batched = tuple(t.unsqueeze(0) if unbatched else t for t in given)
    sizes = {t.shape[0] for t in batched}
    if len(sizes) > 1:
        shapes = ", ".join(str(tuple(t.shape)) for t in batched)
        raise ValueError(
            f"the inputs have different batch sizes ({shapes}); every tensor in the tuple "
            "needs the same first dimension N. Pass unbatched extras with forward_args="
        )
    if 0 in sizes:
        raise ValueError("inputs is an empty batch (N = 0): give at least one item")
    device, dtype = model_device_and_dtype(model)
    if device.type == "meta":
        raise ValueError(
            "the model's parameters are on the meta device: they have shapes but no values, "
            "so it cannot run. Materialise it first, e.g. model.to_empty(device='cpu') and then "
            "model.load_state_dict(weights)"
        )
    tensors = tuple(t.to(device=device, dtype=dtype) for t in batched)
    return PreparedInputs(tensors, given, unbatched, as_tuple)


def _check_tensor(tensor: object, what: str) -> None:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(
            f"{what} must be a torch.Tensor of shape (N, ...), got {type(tensor).__name__}; "
            "convert it first, e.g. with torch.as_tensor or the model's preprocessing"
        )
    if not tensor.is_floating_point():
        raise TypeError(
            f"{what} must be a float tensor, got {tensor.dtype}: scale and normalise it with "
            "the model's preprocessing first (token ids are taken alone, as one (N, T) "
            "integer tensor; pass other integer inputs with forward_args=)"
        )
    if tensor.dim() < 2:
        raise ValueError(
            f"{what} must have a batch dimension and at least one more: shape (N, ...) of "
            f"rank >= 2; got shape {tuple(tensor.shape)}. Add the batch dimension with "
            "x.unsqueeze(0)"
        )
    if tensor.is_meta:
        raise ValueError(
            f"{what} is on the meta device: it has a shape but no values. Create it on the "
            "CPU or a GPU (e.g. torch.randn(shape) or your data), not under torch.device('meta')"
        )
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{what} contains NaN or infinite values: clean it first")


def _prepared_ids(model: nn.Module, ids: torch.Tensor) -> PreparedInputs:
    check_token_ids(ids, "inputs")
    if ids.is_meta:
        raise ValueError("the token ids are on the meta device: they have a shape but no values")
    device, _ = model_device_and_dtype(model)
    return PreparedInputs((ids.to(device=device, dtype=torch.long),), (ids,), False, False)


def _is_conv(layer: tuple[str, nn.Module] | None, dims: int) -> bool:
    return (
        layer is not None
        and isinstance(layer[1], nn.modules.conv._ConvNd)
        and (len(layer[1].kernel_size) == dims)
    )


def split_batch(value: object, n: int, sizes: list[int]) -> list[object]:
    """``value`` split into chunks of ``sizes`` along dimension 0 when it is a tensor
    with batch dimension ``n``; otherwise the same value for every chunk."""
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == n:
        return list(value.split(sizes))
    return [value] * len(sizes)


def to_device(value: object, device: torch.device) -> object:
    """``value`` moved to ``device`` when it is a tensor; anything else as it is."""
    return value.to(device) if isinstance(value, torch.Tensor) else value
