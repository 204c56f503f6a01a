"""Token ids in: the embedding that reads them becomes the input that is attributed.

Integer ids have no gradient, so a map over them has to start one step later, at the
output of the embedding look-up that reads them: ``(N, T)`` ids become ``(N, T, D)``
vectors, and that tensor is the leaf gradients are taken with respect to. The look-up is
found while the forward pass runs, as the ReLUs are: the function mode sees every
``F.embedding`` / ``torch.embedding`` call, and a call reads the ids when its indices share
their storage (a model may ``view`` or reshape its ids first, as GPT-2 does). Position and
token-type embeddings read other tensors (``arange`` positions, zeros), so they are not
attributed; their contribution is part of what the model does after the leaf.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The two spellings of the look-up: ``F.embedding(input, weight)`` and the lower
# ``torch.embedding(weight, input)``, with their arguments the other way round.
EMBEDDING_FUNCTIONS = frozenset({"embedding"})


def is_token_ids(tensor: object) -> bool:
    """Whether ``tensor`` holds integer ids (what an embedding reads), not values: any
    integer dtype but ``uint8``, which holds a picture's pixels, to be scaled first."""
    return (
        isinstance(tensor, torch.Tensor)
        and not tensor.is_floating_point()
        and not tensor.is_complex()
        and tensor.dtype not in (torch.bool, torch.uint8)
    )


def check_token_ids(ids: torch.Tensor, what: str) -> None:
    """Refuse ids that no embedding can read: not ``(N, T)``, empty, or negative."""
    if ids.dim() != 2:
        raise ValueError(
            f"{what} holds token ids of shape {tuple(ids.shape)}; give them as (N, T): one row "
            "of T ids per item (add the batch dimension with ids.unsqueeze(0))"
        )
    if ids.shape[1] == 0:
        raise ValueError(f"{what} holds no tokens (T = 0): give at least one token id per item")
    if bool((ids < 0).any()):
        raise ValueError(
            f"{what} holds the negative token id {int(ids.min())}: ids index the vocabulary from 0"
        )


def _shares_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.device == b.device and a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


class EmbeddingTap:
    """Turns the embedding look-up that reads the ids into the attributed leaf.

    ``ids``: the ``(N, T)`` ids given to ``forward``, or ``None`` for float inputs (then
    the tap only refuses a look-up given float values, which torch would refuse from deep
    inside ``nn.Embedding``). ``chosen``: the embedding module
    to use (``GuidedBackprop(model, embedding=...)``), or ``None`` to take the one call
    that reads the ids. The first look-up that reads them returns a leaf ``(N, T, D)``
    that requires grad (the same values as the look-up); any further one runs as the
    model wrote it and is named in :meth:`leaf`'s error.
    """

    def __init__(
        self,
        ids: torch.Tensor | None,
        chosen: nn.Module | None,
        modules: tuple[tuple[str, nn.Module], ...],
    ) -> None:
        self._ids = ids
        self._chosen = chosen
        self._names = {
            id(module.weight): path or type(module).__name__
            for path, module in modules
            if isinstance(module, nn.Embedding)
        }
        self._readers: list[str] = []
        self._leaf: torch.Tensor | None = None

    def __call__(self, func, args: tuple, kwargs: dict) -> torch.Tensor | None:
        """The leaf, for a look-up that reads the ids; ``None`` for any other call."""
        indices, weight = _indices_and_weight(func, args, kwargs)
        if indices is None or weight is None:
            return None
        if indices.is_floating_point():
            raise TypeError(
                f"an embedding ({self._name(weight)}) was given {indices.dtype} values: token "
                "ids must be an integer tensor (N, T); convert them with ids.long(), or give "
                "the embedded vectors as the float input instead"
            )
        if self._ids is None or not _shares_storage(indices, self._ids):
            return None
        if self._chosen is not None and weight is not getattr(self._chosen, "weight", None):
            return None
        self._readers.append(self._name(weight))
        if self._leaf is not None:
            return None
        vocabulary = weight.shape[0]
        if bool((indices >= vocabulary).any()):
            raise ValueError(
                f"token id {int(indices.max())} is outside the vocabulary of "
                f"{self._name(weight)}, which has {vocabulary} entries (ids 0 to "
                f"{vocabulary - 1}); encode the text with the model's own tokenizer"
            )
        with torch.enable_grad():
            self._leaf = func(*args, **kwargs).detach().requires_grad_(True)
        return self._leaf

    def _name(self, weight: torch.Tensor) -> str:
        return self._names.get(id(weight), f"F.embedding with a {tuple(weight.shape)} weight")

    def leaf(self) -> torch.Tensor:
        """The embedding's output ``(N, T, D)`` that gradients are taken to, once the
        forward pass has run; an error naming the look-ups when it is not exactly one."""
        if self._leaf is None:
            which = (
                f"the chosen embedding {type(self._chosen).__name__} was not called on them"
                if self._chosen is not None
                else "no nn.Embedding or F.embedding call read them"
            )
            raise ValueError(
                f"the inputs are token ids, but {which}, so there is no embedded input to "
                "attribute. Name the embedding that reads them with "
                "GuidedBackprop(model, embedding=model.<its path>), or give the embedded "
                "vectors (N, T, D) as a float input"
            )
        if len(self._readers) > 1:
            raise ValueError(
                f"the token ids were read by {len(self._readers)} embedding look-ups "
                f"({', '.join(self._readers)}), so which one to attribute is ambiguous; choose "
                "one with GuidedBackprop(model, embedding=model.<its path>)"
            )
        return self._leaf


def _indices_and_weight(func, args: tuple, kwargs: dict):
    if func is F.embedding:
        indices = args[0] if args else kwargs.get("input")
        weight = args[1] if len(args) > 1 else kwargs.get("weight")
    else:
        weight = args[0] if args else kwargs.get("weight")
        indices = args[1] if len(args) > 1 else kwargs.get("indices")
    if not isinstance(indices, torch.Tensor) or not isinstance(weight, torch.Tensor):
        return None, None
    return indices, weight


def check_attention_mask(ids: torch.Tensor, kwargs: dict) -> None:
    """An ``attention_mask`` among the forward arguments must be one flag per id."""
    mask = kwargs.get("attention_mask")
    if isinstance(mask, torch.Tensor) and tuple(mask.shape) != tuple(ids.shape):
        raise ValueError(
            f"attention_mask has shape {tuple(mask.shape)}, but the token ids are "
            f"{tuple(ids.shape)}: give one 0/1 flag per id, of the ids' shape (N, T)"
        )


def last_kept(ids: torch.Tensor, kwargs: dict) -> torch.Tensor:
    """Per item, the last position the attention mask keeps (the last one without a
    mask): ``(N,)`` long, on the ids' device."""
    mask = kwargs.get("attention_mask")
    n, length = ids.shape
    if not isinstance(mask, torch.Tensor):
        return torch.full((n,), length - 1, dtype=torch.long, device=ids.device)
    positions = torch.arange(length, device=mask.device)
    kept = (mask != 0).to(torch.long) * (positions + 1)
    return (kept.max(dim=1).values - 1).clamp_min(0).to(ids.device)


def check_embedding(model: nn.Module, embedding: object) -> nn.Module | None:
    """``embedding`` if it is ``None`` or an ``nn.Embedding`` inside ``model``."""
    if embedding is None:
        return None
    if not isinstance(embedding, nn.Embedding):
        raise TypeError(
            f"embedding must be the nn.Embedding module that reads the token ids, got "
            f"{type(embedding).__name__}"
        )
    if not any(module is embedding for module in model.modules()):
        raise ValueError(
            "embedding is not a module of this model: pass the model's own, e.g. "
            "model.transformer.wte"
        )
    return embedding
