"""What an explanation backpropagates from: classes, regions of a dense output, a neuron
at a site or module, or a score function on the model's output."""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gbp_widgets.engine.outputs import check_scores
from gbp_widgets.engine.sites import SiteRecord


@dataclass(frozen=True)
class Neuron:
    """A unit or a whole channel, at a ReLU site or at a module's output, as a target.

    ``site`` is a site name (``"layer1.0.relu#2"``, see :class:`gbp_widgets.Site`)
    or a module path from ``model.named_modules()`` (``"layer3"``). ``channel``
    indexes dimension 1 of that output ``(N, C, *spatial)``. ``position`` picks
    one unit by its spatial index (one int per spatial dimension, e.g. ``(l,)``
    for ``(N, C, L)``); for images ``y=`` and ``x=`` say the same. Without a
    position the whole channel is the target.

    At a ReLU site the seed is the site's own activations on the chosen units,
    every other unit zeroed (Zeiler's feature view). At a module's output,
    which can be negative, the seed is 1 on the chosen units: the gradient of
    their sum.
    """

    site: str
    channel: int
    y: int | None = None
    x: int | None = None
    position: tuple[int, ...] | None = None

    @property
    def at_module(self) -> bool:
        """Whether ``site`` names a module (paths have no ``#``) rather than a ReLU call."""
        return "#" not in self.site

    def unit(self, spatial: tuple[int, ...], where: str) -> tuple[int, ...] | None:
        """The checked spatial index of the unit (``None`` for the whole channel)."""
        if self.position is not None and (self.y is not None or self.x is not None):
            raise ValueError("give the unit as position=(...) or as y= and x=, not both")
        if self.y is not None or self.x is not None:
            if self.y is None or self.x is None or len(spatial) != 2:
                raise ValueError(
                    "give both y and x for a single unit of a (N, C, H, W) output, or neither "
                    f"for the whole channel; {where} has spatial size {spatial}"
                )
            unit = (self.y, self.x)
        elif self.position is None:
            return None
        else:
            unit = tuple(self.position)
        if len(unit) != len(spatial) or any(
            not isinstance(i, int) or not 0 <= i < size
            for i, size in zip(unit, spatial, strict=True)
        ):
            raise ValueError(
                f"unit {_unit_text(unit)} is outside {where}, whose spatial size is "
                f"{' x '.join(map(str, spatial)) or 'empty (no spatial dimensions)'}"
            )
        return unit


def _unit_text(unit: tuple[int, ...]) -> str:
    return f"(y={unit[0]}, x={unit[1]})" if len(unit) == 2 else str(unit)


@dataclass(frozen=True, eq=False)
class Region:
    """Class ``cls`` summed over positions of a dense output ``(N, K, *spatial)``.

    ``mask`` is a bool tensor or array of shape ``spatial`` (the same for every
    item) or ``(N, *spatial)``; ``None`` means every position. The backward
    pass starts from the sum of class ``cls``'s scores where the mask is True:
    for segmentation, "why is this region labelled ``cls``".
    """

    cls: int
    mask: torch.Tensor | np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class RegionPart:
    """A :class:`Region` for the items ``items`` of a batch explained in chunks, so a
    per-item mask ``(N, *spatial)`` is sliced only once the output's positions are known."""

    region: Region
    items: slice


ScoreFunction = Callable[[object], torch.Tensor]
Target = None | int | Sequence[int] | torch.Tensor | Neuron | Region | ScoreFunction


def score_seed(target: Target, scores: torch.Tensor) -> tuple[torch.Tensor, object]:
    """The gradient to start from at the chosen output, and the target as resolved.

    ``scores`` is ``(N, K)`` (classes), ``(N, K, *spatial)`` (dense: an int or
    ``None`` means that class over every position, ``None`` picking per item
    the class predicted at most positions) or ``(N,)`` (one score per item,
    target ``None``).
    """
    if scores.dim() == 1:
        if target is not None:
            raise ValueError(
                f"the chosen output has shape {tuple(scores.shape)}: one score per item, so "
                f"there is no class to pick; use target=None, not {target!r}"
            )
        return torch.ones_like(scores), None
    if isinstance(target, RegionPart):
        return region_seed(target.region, scores, target.items), target.region
    if isinstance(target, Region):
        return region_seed(target, scores), target
    if target is None and scores.dim() > 2:
        target = scores.detach().argmax(1).flatten(1).mode(dim=1).values
    classes = class_targets(target, scores.detach())
    seed = torch.zeros_like(scores)
    seed[torch.arange(scores.shape[0], device=scores.device), classes] = 1.0
    return seed, classes


def class_targets(target: Target, logits: torch.Tensor) -> torch.Tensor:
    """Resolve ``None``, an int, or one class per item to a ``(N,)`` long tensor.

    ``logits`` is the ``(N, K, ...)`` model output; ``None`` picks each item's
    predicted class. The result is on ``logits``' device.
    """
    n, classes = logits.shape[:2]
    if target is None:
        return logits.argmax(dim=1)
    target = _scalar_class(target)
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
    _check_classes(resolved, classes)
    return resolved.to(logits.device)


def _scalar_class(target: object) -> object:
    """A NumPy integer or a 0-d integer tensor or array (what ``argmax`` returns) as the
    plain int it means; anything else as it is."""
    if isinstance(target, numbers.Integral) and not isinstance(target, (bool, np.bool_)):
        return int(target)
    if isinstance(target, (torch.Tensor, np.ndarray)) and target.ndim == 0:
        is_integer = (
            not target.is_floating_point() and target.dtype != torch.bool
            if isinstance(target, torch.Tensor)
            else np.issubdtype(target.dtype, np.integer)
        )
        if is_integer:
            return int(target.item())
    return target


def _check_classes(resolved: torch.Tensor, classes: int) -> None:
    bad = resolved[(resolved < 0) | (resolved >= classes)]
    if bad.numel():
        raise ValueError(
            f"target class {int(bad[0])} is out of range: the model has {classes} classes, "
            f"so use an index from 0 to {classes - 1}"
        )


def _per_item_classes(target: object, n: int) -> torch.Tensor:
    try:
        resolved = torch.as_tensor(target)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            "target must be None, an int, one int per item, a Neuron, a Region or a callable "
            f"output -> (N,) scores; got {type(target).__name__}"
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


def region_seed(region: Region, scores: torch.Tensor, items: slice | None = None) -> torch.Tensor:
    """Seed 1 at class ``region.cls`` where its mask is True, 0 elsewhere; like ``scores``.

    ``items``: which items of the whole batch ``scores`` holds, when it is one chunk.
    """
    n, classes = scores.shape[:2]
    spatial = tuple(scores.shape[2:])
    if isinstance(region.cls, bool) or not isinstance(region.cls, int):
        raise TypeError(f"Region.cls must be a class index (int), got {region.cls!r}")
    _check_classes(torch.tensor([region.cls]), classes)
    seed = torch.zeros_like(scores)
    if region.mask is None:
        seed[:, region.cls] = 1.0
        return seed
    mask = torch.as_tensor(region.mask, device=scores.device)
    if mask.dtype != torch.bool:
        raise TypeError(f"Region.mask must be a bool tensor or array, got {mask.dtype}")
    if not spatial:
        raise ValueError(
            f"the chosen output has shape {tuple(scores.shape)}, with no spatial positions "
            "for a Region mask; use Region(cls) or the class index alone"
        )
    if not bool(mask.any()):
        raise ValueError("Region.mask selects no position: there is nothing to explain")
    if tuple(mask.shape) == spatial:
        mask = mask.expand(n, *spatial)
    elif mask.dim() == len(spatial) + 1 and tuple(mask.shape[1:]) == spatial:
        given = mask.shape[0]
        mask = mask if items is None else mask[items]
        if mask.shape[0] != n:
            raise ValueError(
                f"Region.mask holds masks for {given} items, which is not the number of "
                f"inputs: give one mask per item, or one of shape {spatial} for all"
            )
    else:
        raise ValueError(
            f"Region.mask has shape {tuple(mask.shape)}, but the output's positions are "
            f"{spatial}: give a mask of shape {spatial} or {(n, *spatial)}"
        )
    seed[:, region.cls] = mask.to(scores.dtype)
    return seed


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


def neuron_seed(output: torch.Tensor, neuron: Neuron, where: str) -> torch.Tensor:
    """Gradient to start from at ``output`` ``(N, C, *spatial)``, the site's or module's
    output called ``where``: zero except on the chosen channel (or unit)."""
    output = output.detach()
    channels = output.shape[1] if output.dim() > 1 else 0
    if not 0 <= neuron.channel < channels:
        raise ValueError(
            f"channel {neuron.channel} is out of range at {where}, which has "
            f"{channels} channels (0 to {channels - 1})"
        )
    unit = neuron.unit(tuple(output.shape[2:]), where)
    index = (slice(None), neuron.channel, *(unit or ()))
    seed = torch.zeros_like(output)
    seed[index] = 1.0 if neuron.at_module else output[index]
    return seed


def callable_scores(fn: ScoreFunction, output: object, n: int) -> torch.Tensor:
    """Scores ``fn(output)``, checked to be one number per item: ``(n,)``."""
    scores = fn(output)
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (n,):
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(
            f"a target function must return one score per item, shape ({n},); it returned {shape}"
        )
    return check_scores(scores, "the target function's scores")
