"""Choosing the tensor of scores from whatever a model's ``forward`` returns."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import torch

OutputChoice = None | str | int | Callable[[object], torch.Tensor]

# Keys tried, in order, when no choice is given: HF ``ModelOutput`` and most
# classifiers call their scores ``logits``; torchvision's segmentation models ``out``.
DEFAULT_KEYS = ("logits", "out")


class OutputError(TypeError):
    """The model's output could not be turned into a tensor of scores."""


def choose_output(raw: object, choice: OutputChoice = None, graph: bool = True) -> torch.Tensor:
    """The score tensor in ``raw`` (what ``forward`` returned), as ``choice`` says.

    ``None``: ``raw`` itself when it is a tensor, else its ``logits`` (or
    ``out``) entry or attribute. A ``str`` picks a key or attribute, an ``int``
    an item of a tuple or list, a callable maps ``raw`` to the tensor.
    Raises :class:`OutputError` describing ``raw`` when that gives no tensor.
    ``graph=False`` accepts scores computed without autograd (forward passes that
    only read the scores, as the faithfulness metrics' do).
    """
    if choice is None:
        chosen = raw if isinstance(raw, torch.Tensor) else _default_entry(raw)
        if chosen is None:
            raise OutputError(
                f"the model returned {describe(raw)}; the engine cannot tell which part holds "
                f"the scores. Choose it with output=: {_how_to_choose(raw)}"
            )
    elif isinstance(choice, str):
        chosen = _entry(raw, choice)
    elif isinstance(choice, int) and not isinstance(choice, bool):
        chosen = _item(raw, choice)
    elif callable(choice):
        chosen = choice(raw)
    else:
        raise TypeError(
            f"output must be None, a key, an index or a callable, not {type(choice).__name__}"
        )
    if not isinstance(chosen, torch.Tensor):
        raise OutputError(
            f"output={choice!r} chose {describe(chosen)} from {describe(raw)}; it must choose "
            "a tensor of scores"
        )
    return check_scores(chosen, f"the chosen output ({describe(chosen)})", graph)


def check_scores(scores: torch.Tensor, what: str, graph: bool = True) -> torch.Tensor:
    """``scores`` if it is a float tensor that autograd can differentiate, else an
    :class:`OutputError` that says what it is and what to do instead."""
    if not scores.is_floating_point():
        raise OutputError(
            f"{what} holds {scores.dtype} values, not scores: gradients need float scores "
            "computed from the inputs. Return the logits or probabilities before any argmax, "
            "rounding or comparison, or choose them with output="
        )
    if graph and not scores.requires_grad:
        raise OutputError(
            f"{what} does not depend on the inputs through autograd (it does not require "
            "grad): the model cut it off with .detach(), torch.no_grad(), .item() or a round "
            "trip through NumPy. Return the tensor as computed, or choose another with output="
        )
    return scores


def _how_to_choose(raw: object) -> str:
    """How to pick the scores out of ``raw``, with a key or index it really has, so the
    hint can be copied as it is."""
    if isinstance(raw, (tuple, list)) and not hasattr(type(raw), "_fields"):
        return "an index (output=0) or a function (output=lambda out: out[0])"
    keys: list = []
    if isinstance(raw, Mapping):
        keys = [k for k, v in raw.items() if isinstance(v, torch.Tensor)] or list(raw)
    elif dataclasses.is_dataclass(raw) and not isinstance(raw, type):
        keys = [f.name for f in dataclasses.fields(raw)]
    elif hasattr(type(raw), "_fields"):
        keys = list(raw._fields)
    key = next((k for k in keys if isinstance(k, str)), None)
    if key is None:
        return "a function that returns the score tensor (output=lambda out: ...)"
    return f"a key (output={key!r}) or a function (output=lambda out: out[{key!r}])"


def _default_entry(raw: object) -> torch.Tensor | None:
    for key in DEFAULT_KEYS:
        value = _lookup(raw, key)
        if isinstance(value, torch.Tensor):
            return value
    return None


def _lookup(raw: object, key: str) -> object:
    if isinstance(raw, Mapping):
        return raw.get(key)
    if dataclasses.is_dataclass(raw) or hasattr(type(raw), "_fields"):
        return getattr(raw, key, None)
    return None


def _entry(raw: object, key: str) -> object:
    value = _lookup(raw, key)
    if value is None and not isinstance(raw, Mapping):
        value = getattr(raw, key, None)
    if value is None:
        raise OutputError(f"output={key!r} names nothing in {describe(raw)}")
    return value


def _item(raw: object, index: int) -> object:
    if not isinstance(raw, (tuple, list)):
        raise OutputError(
            f"output={index} indexes a tuple or list, but the model returned {describe(raw)}"
        )
    if not -len(raw) <= index < len(raw):
        raise OutputError(f"output={index} is out of range for {describe(raw)}")
    return raw[index]


def describe(value: object, depth: int = 0) -> str:
    """A short account of ``value``'s structure: types, keys and tensor shapes."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if depth >= 2:
        return f"a {type(value).__name__}"
    if isinstance(value, Mapping):
        items = [f"{k!r}: {describe(v, depth + 1)}" for k, v in list(value.items())[:8]]
        return f"a {type(value).__name__} with {{{', '.join(items)}}}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [
            f"{f.name}={describe(getattr(value, f.name), depth + 1)}"
            for f in dataclasses.fields(value)
        ]
        return f"a {type(value).__name__}({', '.join(fields)})"
    if isinstance(value, (tuple, list)):
        items = [f"[{i}] {describe(v, depth + 1)}" for i, v in enumerate(value[:8])]
        more = ", ..." if len(value) > 8 else ""
        return f"a {type(value).__name__} of {len(value)}: {', '.join(items)}{more}"
    return f"a {type(value).__name__}"


def detached(value: object) -> object:
    """``value`` with every tensor in it (through mappings, lists and tuples) detached;
    mappings come back as plain dicts, other sequences as lists."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, Mapping):
        return {k: detached(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [detached(v) for v in value]
        return tuple(items) if type(value) is tuple else items
    return value
