"""What an explanation returns, how chunked ones are joined, and the coverage warning."""

from __future__ import annotations

import dataclasses
import warnings
from collections import Counter
from dataclasses import dataclass

import torch

from gbp_widgets.engine.gated import GATES
from gbp_widgets.engine.sites import NotGuided, Site
from gbp_widgets.engine.token_targets import TokenTarget


class GuidedBackpropWarning(UserWarning):
    """The explanation is not fully what its rule promises (uncovered nonlinearities)."""


@dataclass(frozen=True)
class Explanation:
    """An attribution and everything the engine saw while making it.

    ``attribution`` has the shape, dtype and device of the input given to
    :meth:`GuidedBackprop.explain`; a tuple of such tensors when the inputs
    were a tuple. ``logits`` is the chosen output (``(N, K)`` for a
    classifier, ``(N, K, *spatial)`` for a dense one) on the model's device,
    detached; when no tensor could be chosen and a callable target scored the
    raw output, that raw output. ``target`` is the resolved ``(N,)`` class
    tensor, the :class:`Neuron` or :class:`Region`, or the score function.
    ``sites`` has one :class:`Site` per ReLU-family call in forward order;
    ``not_guided`` lists the calls the rules do not cover. ``activations`` is
    ``"relu"`` (the published method) or ``"gated"`` (gated calls are sites too,
    with soft masks: our extension).

    For token ids ``(N, T)`` given as the input, ``attribution`` is the gradient at the
    output of the embedding that read them, ``(N, T, D)``; ``embedded`` is that output
    (detached) and ``token_ids`` the ids; both are ``None`` for float inputs.
    """

    attribution: torch.Tensor | tuple[torch.Tensor, ...]
    logits: object
    target: object
    rule: str
    sites: tuple[Site, ...]
    not_guided: tuple[NotGuided, ...]
    activations: str = "relu"
    embedded: torch.Tensor | None = None
    token_ids: torch.Tensor | None = None

    def token_scores(self, reduce: str = "norm") -> torch.Tensor:
        """One score per token, ``(N, T)``, from an attribution ``(N, T, D)``.

        ``"norm"`` (the default, as inseq and Ecco give): the L2 norm of each token's
        attribution vector, how much the token's embedding matters, never negative.
        ``"sum"``: the sum over ``D``, signed (zero up to rounding where every path from
        the embedding passes a LayerNorm, as in pre-norm transformers). ``"dot"``: the
        attribution times the embedded vector, summed over ``D`` (gradient times input),
        signed; needs token ids as the input, whose embedding the explanation kept.
        """
        attribution = self.attribution
        if isinstance(attribution, tuple) or attribution.dim() != 3:
            shape = "a tuple" if isinstance(attribution, tuple) else tuple(attribution.shape)
            raise ValueError(
                f"token_scores needs one attribution of shape (N, T, D); this one is {shape}. "
                "Explain token ids, or embedded vectors (N, T, D)"
            )
        reducers = {
            "norm": lambda a: a.norm(dim=-1),
            "sum": lambda a: a.sum(dim=-1),
            "dot": self._dot,
        }
        if reduce not in reducers:
            raise ValueError(f"unknown reduce {reduce!r}: use one of {', '.join(reducers)}")
        return reducers[reduce](attribution)

    def _dot(self, attribution: torch.Tensor) -> torch.Tensor:
        if self.embedded is None:
            raise ValueError(
                "reduce='dot' multiplies by the embedded vectors, which only an explanation "
                "of token ids keeps; use 'norm' or 'sum', or explain the ids"
            )
        embedded = self.embedded.to(attribution.device, attribution.dtype)
        return (attribution * embedded).sum(dim=-1)

    def site(self, name: str) -> Site:
        """The site called ``name``; ``KeyError`` naming the first few sites if none."""
        for site in self.sites:
            if site.name == name:
                return site
        raise KeyError(
            f"no site named {name!r}; this explanation has {len(self.sites)} sites: "
            + ", ".join(s.name for s in self.sites[:5])
            + (", ..." if len(self.sites) > 5 else "")
        )

    def replace(self, **changes: object) -> Explanation:
        """A copy with the given fields changed."""
        return dataclasses.replace(self, **changes)


def concatenate(parts: list[Explanation]) -> Explanation:
    """Join explanations of consecutive chunks of one batch along dimension 0."""
    first = parts[0]
    names = [s.name for s in first.sites]
    if any([s.name for s in part.sites] != names for part in parts[1:]):
        raise RuntimeError(
            "the model called its ReLUs differently for different chunks of the batch; "
            "explain without batch_size, or one chunk at a time"
        )
    target = first.target
    if isinstance(target, torch.Tensor):
        target = torch.cat([part.target for part in parts])
    sites = tuple(_join_site([part.sites[i] for part in parts]) for i in range(len(names)))
    return first.replace(
        attribution=_cat([part.attribution for part in parts]),
        logits=_cat([part.logits for part in parts]),
        target=_cat_target(target, [part.target for part in parts]),
        embedded=None if first.embedded is None else _cat([p.embedded for p in parts]),
        token_ids=None if first.token_ids is None else _cat([p.token_ids for p in parts]),
        sites=sites,
    )


def _cat_target(first: object, targets: list) -> object:
    """Resolved targets of chunks as one: classes and token targets joined per item."""
    if isinstance(first, TokenTarget):
        return TokenTarget(
            torch.cat([t.position for t in targets]), torch.cat([t.token for t in targets])
        )
    return first


def _cat(parts: list) -> object:
    """Chunks joined along dimension 0: tensors, tuples of tensors, else a list of parts."""
    if all(isinstance(p, torch.Tensor) for p in parts):
        return torch.cat(parts)
    if all(isinstance(p, tuple) for p in parts):
        return tuple(_cat(list(group)) for group in zip(*parts, strict=True))
    return parts


def _join_site(per_chunk: list[Site]) -> Site:
    first = per_chunk[0]
    shape = (sum(s.shape[0] for s in per_chunk), *first.shape[1:])
    forward = tuple(p for s in per_chunk for p in s.forward_parts)
    backward = tuple(p for s in per_chunk for p in s.backward_parts)
    return Site(first.name, first.kind, shape, forward, backward, first.soft)


# The gated kinds as ``activations="relu"`` reports them, for the hint to try gates.
_GATED_REPORTS = frozenset(GATES) | {"sigmoid"}


def coverage_message(
    rule: str, site_count: int, not_guided: tuple[NotGuided, ...], activations: str = "relu"
) -> str:
    """What the rule did not cover in a pass ("" when it covered everything)."""
    problems = []
    gated = activations == "gated"
    if not site_count:
        calls = "ReLU-family or gated" if gated else "ReLU-family"
        problems.append(
            f"the model made no {calls} calls, so every rule gives the plain input gradient"
        )
    if not_guided:
        counts = Counter(kind for _, kind in not_guided)
        listed = ", ".join(f"{kind} ({n} call{'s' if n > 1 else ''})" for kind, n in counts.items())
        covered = "ReLU, ReLU6 and Hardtanh(0, k)" + (
            ", and GELU, SiLU, Mish and Hardswish by their gates," if gated else ""
        )
        hint = ""
        if not gated and counts.keys() & _GATED_REPORTS:
            hint = (
                "; activations='gated' makes GELU, SiLU, Mish and Hardswish (and x * sigmoid(x) "
                "written out) sites, with their gate s(x) as a soft forward mask (our extension "
                "of the method)"
            )
        problems.append(
            f"the {rule!r} rule covers {covered} however they are written; these "
            f"nonlinearities were backpropagated as plain gradients: {listed} (see "
            f"Explanation.not_guided for where they are){hint}"
        )
    return "; ".join(problems)


def warn_about_coverage(explanation: Explanation, stacklevel: int = 3) -> None:
    """Warn once about uncovered nonlinearities and about a model with no ReLU at all."""
    message = coverage_message(
        explanation.rule, len(explanation.sites), explanation.not_guided, explanation.activations
    )
    if message:
        warnings.warn(message, GuidedBackpropWarning, stacklevel=stacklevel)


def warn_about_scores(explanation: Explanation, stacklevel: int = 3) -> None:
    """Warn when some items' scores are NaN or infinite.

    Their maps are still returned (the other items' are unaffected), but they
    backpropagate from a value that is not a number: usually all NaN, at best
    meaningless. The warning names the items.
    """
    logits = explanation.logits
    if not isinstance(logits, torch.Tensor) or logits.dim() == 0 or not logits.is_floating_point():
        return
    broken = ~torch.isfinite(logits.detach())
    items = (broken.flatten(1).any(1) if logits.dim() > 1 else broken).nonzero().flatten()
    if items.numel():
        listed = ", ".join(str(i) for i in items[:10].tolist())
        more = f" and {items.numel() - 10} more" if items.numel() > 10 else ""
        warnings.warn(
            f"the model's scores for item(s) {listed}{more} are NaN or infinite, so their maps "
            "are backpropagated from a value that is not a number and mean nothing; check "
            "those inputs' scale and preprocessing",
            GuidedBackpropWarning,
            stacklevel=stacklevel,
        )
