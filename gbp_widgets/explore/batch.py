"""A batch the Explorer can show: the inputs checked and prepared, a view for each, and
the inputs made from one picture."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

from gbp_widgets.engine import prepare_inputs
from gbp_widgets.explore.names import INPUT_KINDS
from gbp_widgets.explore.views import InputView, kind_for, make_view
from gbp_widgets.models import Preprocessing


def picture_inputs(image: object, preprocess: Preprocessing) -> dict[str, object]:
    """``inputs`` ``(1, 3, H, W)`` and ``pictures`` (the photo shown) for one picture: a
    PIL image (cropped and normalised by ``preprocess``), a ``(size, size, 3)`` uint8
    array already cropped to ``preprocess.size`` (a webcam frame: normalised only), or a
    model-ready ``(3, H, W)`` or ``(1, 3, H, W)`` tensor (shown by undoing
    ``preprocess``'s normalisation)."""
    if isinstance(image, np.ndarray):
        side = preprocess.size
        if image.shape != (side, side, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"a cropped picture must be ({side}, {side}, 3) uint8 RGB for this model, "
                f"not {image.dtype} {image.shape}"
            )
        return {"inputs": preprocess.normalize(Image.fromarray(image))[None], "pictures": [image]}
    if isinstance(image, torch.Tensor):
        tensor = image.detach().to("cpu", torch.float32)
        tensor = tensor if tensor.dim() == 4 else tensor[None]
        photo = preprocess.unnormalize(tensor[0]).permute(1, 2, 0).numpy()
        return {"inputs": tensor, "pictures": [(photo * 255).round().astype(np.uint8)]}
    cropped = preprocess.crop(image)
    return {
        "inputs": preprocess.normalize(cropped)[None],
        "pictures": [np.asarray(cropped, dtype=np.uint8)],
    }


def prepare(model: nn.Module, inputs) -> tuple[tuple[torch.Tensor, ...], bool]:
    """The batch as ``(N, ...)`` tensors on the model's device, and whether it was a tuple;
    refuses inputs the Explorer cannot show, saying which it shows."""
    given = inputs if isinstance(inputs, tuple) else (inputs,)
    for position, tensor in enumerate(given):
        if isinstance(tensor, torch.Tensor) and not tensor.is_floating_point():
            raise TypeError(
                f"{_which(inputs, position)} is a {tensor.dtype} tensor: the Explorer shows "
                f"float inputs, {_shown_kinds()}. Integer inputs such as token ids have no "
                "gradient: pass them with forward_args=, or give the model's embeddings as "
                "inputs"
            )
        if isinstance(tensor, torch.Tensor) and tensor.dim() > 5:
            raise ValueError(
                f"{_which(inputs, position)} has shape {tuple(tensor.shape)}: the Explorer "
                f"shows {_shown_kinds()}. Reshape the input to one of these, or use "
                "GuidedBackprop.explain directly"
            )
    prepared = prepare_inputs(model, inputs)
    return prepared.tensors, prepared.as_tuple


def _which(inputs, position: int) -> str:
    return f"inputs[{position}]" if isinstance(inputs, tuple) else "inputs"


def _shown_kinds() -> str:
    return ", ".join(f"{label}s {shape}" for label, shape in INPUT_KINDS.values())


def views_for(batch, kinds, feature_names) -> tuple[InputView, ...]:
    views = []
    for position, tensor in enumerate(batch):
        shape = tuple(tensor.shape[1:])
        own = kind_for(shape)
        kind = kinds[position] if kinds and position < len(kinds) else own
        shape = _shape_for(kind, shape, own)
        names = feature_names if kind == "table" and position == 0 else None
        if names is not None and len(names) != shape[0]:
            raise ValueError(
                f"{len(names)} feature names given for {shape[0]} features: give one per feature"
            )
        views.append(make_view(kind, shape, names))
    return tuple(views)


# Views an input can be shown in besides its own: a table row as a curve, a signal as
# bars of its flattened values.
_ALSO = {"table": ("signal",), "signal": ("table",)}


def _shape_for(kind: str, shape: tuple[int, ...], own: str) -> tuple[int, ...]:
    if kind == own:
        return shape
    if kind not in _ALSO.get(own, ()):
        allowed = ", ".join(repr(k) for k in (own, *_ALSO.get(own, ())))
        raise ValueError(
            f"an input of item shape {shape} cannot be shown as {kind!r}: use {allowed}"
        )
    return (1, shape[0]) if kind == "signal" else (int(np.prod(shape)),)
