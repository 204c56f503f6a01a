"""A batch the Explorer can show (:class:`Batch`): the inputs checked and prepared, a kind for
each, the photos behind them; and the inputs made from one picture."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch import nn

from gbp_widgets.engine import is_token_ids, prepare_inputs
from gbp_widgets.explore.input_kinds import InputKind, input_kind, shown_kinds
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
        ids = isinstance(tensor, torch.Tensor) and is_token_ids(tensor)
        if ids and isinstance(inputs, tuple):
            raise TypeError(
                f"{_which(inputs, position)} holds token ids: the Explorer shows token ids "
                "alone, as one (N, T) tensor; pass other inputs with forward_args="
            )
        if isinstance(tensor, torch.Tensor) and not tensor.is_floating_point() and not ids:
            raise TypeError(
                f"{_which(inputs, position)} is a {tensor.dtype} tensor: the Explorer shows "
                f"float inputs, {shown_kinds()}. Scale a picture's pixels to floats with the "
                "model's preprocessing first"
            )
        if isinstance(tensor, torch.Tensor) and tensor.dim() > 5:
            raise ValueError(
                f"{_which(inputs, position)} has shape {tuple(tensor.shape)}: the Explorer "
                f"shows {shown_kinds()}. Reshape the input to one of these, or use "
                "GuidedBackprop.explain directly"
            )
    prepared = prepare_inputs(model, inputs)
    return prepared.tensors, prepared.as_tuple


def _which(inputs, position: int) -> str:
    return f"inputs[{position}]" if isinstance(inputs, tuple) else "inputs"


def kinds_for(batch, kinds, feature_names, words=None) -> tuple[InputKind, ...]:
    """The kind of each input of ``batch``: the one ``kinds`` names at its position, else
    the one of its shape; the first input's elements take ``feature_names``; token ids
    are tokens, their texts made by ``words`` (ids -> texts; the ids written out without)."""
    return tuple(
        input_kind(
            tuple(tensor.shape[1:]),
            kinds[position] if kinds and position < len(kinds) else None,
            feature_names if position == 0 else None,
            (words or _id_words) if is_token_ids(tensor) else None,
        )
        for position, tensor in enumerate(batch)
    )


def _id_words(ids) -> list[str]:
    return [str(int(i)) for i in ids]


@dataclass(frozen=True)
class Batch:
    """What the Explorer shows items of: ``tensors`` ``(N, ...)`` on the model's device,
    whether they were given as a tuple, each one's kind, the photos behind the first
    (one ``(H, W, 3)`` ``uint8`` per item, when known) and the extra forward arguments
    (per-item tensors among them, with first dimension ``N``, are sliced with the item)."""

    tensors: tuple[torch.Tensor, ...]
    as_tuple: bool
    kinds: tuple[InputKind, ...]
    photos: Sequence[np.ndarray] | None = None
    forward_args: tuple = ()
    forward_kwargs: Mapping[str, object] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """``N``, the number of items."""
        return self.tensors[0].shape[0]

    @property
    def one_photo(self) -> bool:
        """Whether each item is one picture: then photos, uploads and Grad-CAM (which
        weights an image model's feature map) apply."""
        return self.kinds[0].photo and not self.as_tuple

    def inputs(self, item: int) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The model-ready inputs of ``item``, with leading dimension 1, as given."""
        tensors = tuple(t[item : item + 1] for t in self.tensors)
        return tensors if self.as_tuple else tensors[0]

    def arguments(self, item: int) -> tuple[tuple, dict]:
        """The extra forward arguments for ``item`` (per-item tensors sliced)."""

        def sliced(value: object) -> object:
            n = self.count
            if n > 1 and isinstance(value, torch.Tensor) and value.dim() and value.shape[0] == n:
                return value[item : item + 1]
            return value

        return (
            tuple(sliced(a) for a in self.forward_args),
            {k: sliced(v) for k, v in self.forward_kwargs.items()},
        )

    def values(self, item: int, index: int = 0) -> np.ndarray:
        """Input ``index`` of ``item``, without the batch dimension, as its kind takes it."""
        values = self.tensors[index][item].detach().float().cpu().numpy()
        return values.reshape(self.kinds[index].shape)

    def photo(self, item: int, index: int, preprocess: Preprocessing | None) -> np.ndarray:
        """What input ``index`` of ``item`` looks like as a photo: ``(H, W, 3)`` (image),
        ``(D, H, W, 3)`` (volume) ``uint8``; the photo given when there is one, else the
        tensor with ``preprocess``'s normalisation undone (scaled from its own minimum to
        maximum without one); for token ids, the ids ``(T,)``."""
        if index == 0 and self.photos is not None:
            return self.photos[item]
        if self.kinds[index].ids:
            # What token ids look like is their texts, which their kind writes from them.
            return self.tensors[index][item].detach().cpu().numpy()
        values = self.tensors[index][item].detach().float().cpu()
        if values.dim() < 3:
            return np.zeros((1, 1, 3), dtype=np.uint8)
        if preprocess is not None and values.shape[0] == 3:
            scaled = preprocess.unnormalize(values)
        else:
            low, high = values.min(), values.max()
            scaled = (values - low) / (high - low) if high > low else values * 0
        if scaled.shape[0] != 3:
            scaled = scaled.mean(0, keepdim=True).expand(3, *scaled.shape[1:])
        return (scaled.movedim(0, -1).numpy() * 255).round().astype(np.uint8)


def make_batch(
    model: nn.Module,
    inputs,
    photos: Sequence[np.ndarray] | None = None,
    kinds: tuple[str, ...] | None = None,
    feature_names: Sequence[str] | None = None,
    forward_args: tuple = (),
    forward_kwargs: Mapping[str, object] | None = None,
    words=None,
) -> Batch:
    """``inputs`` checked and prepared for ``model``, each with its kind (``kinds`` names
    them by position; by shape where it does not; token ids are tokens, written by
    ``words``)."""
    tensors, as_tuple = prepare(model, inputs)
    return Batch(
        tensors,
        as_tuple,
        kinds_for(tensors, kinds, feature_names, words),
        photos,
        tuple(forward_args),
        dict(forward_kwargs or {}),
    )
