"""What an explanation backpropagates from: classes, a neuron at a site, or a score function."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from gbp_widgets.engine.sites import SiteRecord


@dataclass(frozen=True)
class Neuron:
    """A unit or a whole channel at a ReLU site, as a backprop target.

    ``site`` is a site name (see :class:`gbp_widgets.Site`), ``channel`` an
    index into dimension 1 of its output. With ``y`` and ``x`` the seed is that
    single unit; without them it is the whole channel. The backward pass starts
    from the site's output with every other channel (or unit) zeroed and the
    chosen ones carrying their own activations: the DeconvNet feature view.
    """

    site: str
    channel: int
    y: int | None = None
    x: int | None = None


ScoreFunction = Callable[[torch.Tensor], torch.Tensor]
Target = None | int | Sequence[int] | torch.Tensor | Neuron | ScoreFunction


def class_targets(target: Target, logits: torch.Tensor) -> torch.Tensor:
    """Resolve ``None``, an int, or one class per item to a ``(N,)`` long tensor.

    ``logits`` is the ``(N, K)`` model output; ``None`` picks each item's
    predicted class. The result is on ``logits``' device.
    """
    n, classes = logits.shape
    if target is None:
        return logits.argmax(dim=1)
    if isinstance(target, bool):
        raise TypeError("target must be a class index, not a bool")
    if isinstance(target, str):
        raise TypeError(
            f"target must be a class index, not the string {target!r}; look the name up "
            "first, e.g. classes.index(name)"
        )
    if isinstance(target, int):
        resolved = torch.full((n,), target, dtype=torch.long)
    else:
        resolved = _per_item_classes(target, n)
    bad = resolved[(resolved < 0) | (resolved >= classes)]
    if bad.numel():
        raise ValueError(
            f"target class {int(bad[0])} is out of range: the model has {classes} classes, "
            f"so use an index from 0 to {classes - 1}"
        )
    return resolved.to(logits.device)


def _per_item_classes(target: object, n: int) -> torch.Tensor:
    try:
        resolved = torch.as_tensor(target)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            "target must be None, an int, one int per item, a Neuron or a callable "
            f"logits -> (N,) scores; got {type(target).__name__}"
        ) from err
    if resolved.is_floating_point() or resolved.dtype == torch.bool or resolved.dim() != 1:
        raise TypeError(
            f"a per-item target must be a 1-D sequence of class indices; got {resolved.dtype} "
            f"with shape {tuple(resolved.shape)}"
        )
    if resolved.numel() != n:
        raise ValueError(
            f"target has {resolved.numel()} classes for {n} inputs: give one class per item, "
            "or a single int for all of them"
        )
    return resolved.to("cpu", torch.long)


def find_site(records: Sequence[SiteRecord], name: str) -> SiteRecord:
    """The record called ``name``, or a ``KeyError`` that suggests close names."""
    for record in records:
        if record.name == name:
            return record
    names = [r.name for r in records]
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise KeyError(
        f"no ReLU site named {name!r} in this model ({len(names)} sites, from "
        f"{names[0]!r} to {names[-1]!r}; see Explanation.sites for all names).{hint}"
        if names
        else f"no ReLU site named {name!r}: this model has no ReLU-family calls"
    )


def neuron_seed(record: SiteRecord, neuron: Neuron) -> torch.Tensor:
    """Gradient to start from at the site's output: its own activations on the
    chosen channel (or unit), zero elsewhere. Same shape as the output."""
    output = record.output.detach()
    channels = output.shape[1] if output.dim() > 1 else 0
    if not 0 <= neuron.channel < channels:
        raise ValueError(
            f"channel {neuron.channel} is out of range at site {record.name!r}, which has "
            f"{channels} channels (0 to {channels - 1})"
        )
    seed = torch.zeros_like(output)
    if neuron.y is None and neuron.x is None:
        seed[:, neuron.channel] = output[:, neuron.channel]
        return seed
    if neuron.y is None or neuron.x is None or output.dim() != 4:
        raise ValueError(
            "give both y and x for a single unit of a (N, C, H, W) site, or neither for "
            f"the whole channel; site {record.name!r} has shape {tuple(output.shape)}"
        )
    height, width = output.shape[2:]
    if not (0 <= neuron.y < height and 0 <= neuron.x < width):
        raise ValueError(
            f"unit (y={neuron.y}, x={neuron.x}) is outside site {record.name!r}, whose "
            f"feature map is {height} x {width}"
        )
    seed[:, neuron.channel, neuron.y, neuron.x] = output[:, neuron.channel, neuron.y, neuron.x]
    return seed


def callable_scores(fn: ScoreFunction, logits: torch.Tensor) -> torch.Tensor:
    """Scores ``fn(logits)``, checked to be one number per item: ``(N,)``."""
    scores = fn(logits)
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (logits.shape[0],):
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(
            f"a target function must return one score per item, shape ({logits.shape[0]},); "
            f"it returned {shape}"
        )
    return scores
