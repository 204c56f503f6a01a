"""The pointing game for text: does a map's top token fall on the evidence?

On sentences whose evidence token is known (``gbp_widgets.text.planted_sentences``), a map
scores one hit per sentence whose highest token score (:meth:`Explanation.token_scores`) is
at the evidence position. A random map hits ``1 / T`` of the time; the share of hits comes
with its 95 % Wilson interval.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

from gbp_widgets.engine import GuidedBackprop, GuidedBackpropWarning
from gbp_widgets.metrics.intervals import wilson


@dataclass(frozen=True)
class TextMap:
    """A row of the table: its ``name``, the engine ``rule`` and ``activations`` that
    make it (``rule=None``: a random map)."""

    name: str
    rule: str | None
    activations: str = "relu"


TEXT_MAPS = (
    TextMap("gradient", "gradient"),
    # Without gates a GELU model has no site, so guided is the gradient: shown so it is seen.
    TextMap("guided (published, no site in a GELU model)", "guided"),
    TextMap("guided with gates (ours)", "guided", "gated"),
    TextMap("DeconvNet with gates (ours)", "deconvnet", "gated"),
    TextMap("random map", None),
)
"""The rows of the text pointing game: the gradient, guided as published (on a GELU model it
has no site, so it is the gradient), guided and DeconvNet with gates (our extension), and a
random map (a hit in ``1 / T`` of sentences, the floor)."""


@dataclass(frozen=True)
class TextPointing:
    """One map's result: ``hits`` ``(N,)`` bool, their ``share`` and 95 % ``interval``."""

    name: str
    hits: torch.Tensor
    share: float
    interval: tuple[float, float]


def token_pointing(
    model: nn.Module,
    ids: torch.Tensor,
    labels: torch.Tensor,
    evidence: torch.Tensor,
    maps: tuple[TextMap, ...] = TEXT_MAPS,
    reduce: str = "norm",
    seed: int = 0,
) -> list[TextPointing]:
    """Each map of ``maps`` on ``ids`` ``(N, T)``, explaining class ``labels`` ``(N,)``:
    a hit where the top token score is at ``evidence`` ``(N,)``."""
    results = []
    for made in maps:
        if made.rule is None:
            generator = torch.Generator().manual_seed(seed)
            scores = torch.rand(ids.shape, generator=generator)
        else:
            with warnings.catch_warnings():
                # Without gates the GELUs are reported; the row's name says so.
                warnings.simplefilter("ignore", GuidedBackpropWarning)
                engine = GuidedBackprop(model, activations=made.activations)
                explanation = engine.explain(ids, target=labels, rule=made.rule)
            scores = explanation.token_scores(reduce).cpu()
        hits = scores.argmax(dim=1) == evidence.cpu()
        count = int(hits.sum())
        results.append(TextPointing(made.name, hits, count / len(hits), wilson(count, len(hits))))
    return results
