"""Model-randomisation sanity checks (Adebayo et al., 2018) on a copy of the user's model.

Re-initialise the model's parameterised blocks from the output downwards, one
more at a time (cascading) or one at a time with the rest kept (independent),
and after each step compare every rule's map with the original. A map that
barely changes when the weights it claims to explain are destroyed is not
about the model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from gbp_widgets.engine import (
    GuidedBackprop,
    Target,
    check_activations,
    class_targets,
    prepare_inputs,
    rule_named,
)
from gbp_widgets.pictures import render
from gbp_widgets.pictures.figures import NotebookFigure, gray_key
from gbp_widgets.sanity.metrics import METRICS, normalised_map, similarities

Progress = bool | Callable[[int, int], None]
ORIGINAL = "original"


@dataclass
class SanityResult:
    """Maps and similarities for each randomisation step.

    ``steps`` names what was randomised at each step (``"original"`` first);
    ``maps[(rule, step)]`` is the normalised ``(H, W)`` map of the first image;
    ``records`` is a tidy table, one dict per (step, rule, metric) with the
    metric averaged over the images: ``step``, ``randomised``, ``rule``,
    ``metric``, ``value`` (NaN where a map is constant, so that its correlation
    is undefined). ``mode`` is ``"cascading"`` or ``"independent"``;
    ``order`` is ``"top_down"`` or ``"bottom_up"``; ``activations`` the engine's.
    """

    mode: str
    rules: tuple[str, ...]
    steps: list[str]
    order: str = "top_down"
    activations: str = "relu"
    maps: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    records: list[dict[str, object]] = field(default_factory=list)

    def value(self, rule: str, step: int, metric: str = "spearman_abs") -> float:
        """One similarity to the original map."""
        for record in self.records:
            if (record["rule"], record["step"], record["metric"]) == (rule, step, metric):
                return float(record["value"])
        raise KeyError(f"no record for rule {rule!r}, step {step}, metric {metric!r}")

    def to_dataframe(self):
        """The records as a pandas DataFrame (pandas is needed only here:
        ``pip install -e ".[dataframe]"`` in a clone)."""
        import pandas

        return pandas.DataFrame.from_records(self.records)

    def figure(self, about: str = "") -> NotebookFigure:
        """Similarity to the original map after each step: one panel per metric. ``about``
        (e.g. the picture's name) starts the title, to tell one result's figure from
        another's."""
        figure = NotebookFigure(figsize=(3.2 * len(METRICS), 3.6))
        axes = figure.subplots(1, len(METRICS), sharey=True)
        positions = range(len(self.steps))
        values = np.array([float(r["value"]) for r in self.records] or [0.0])
        lowest = float(np.nanmin(values)) if np.isfinite(values).any() else 0.0
        bottom = min(-0.1, lowest - 0.05)
        for axis, metric in zip(axes, METRICS, strict=True):
            for rule in self.rules:
                curve = np.array([self.value(rule, s, metric) for s in positions])
                (line,) = axis.plot(positions, curve, marker="o", label=self._named(rule))
                # Undefined similarities (a constant map) are crosses on the floor, not 0.
                gaps = np.flatnonzero(np.isnan(curve))
                axis.plot(gaps, np.full(gaps.size, bottom + 0.03), "x", color=line.get_color())
            axis.set_title(METRIC_TITLES[metric], fontsize=9)
            axis.set_xticks(list(positions), self.steps, rotation=90, fontsize=7)
            axis.set_ylim(bottom, 1.05)
            axis.axhline(0.0, color="0.8", linewidth=0.8, zorder=0)
        axes[0].set_ylabel("similarity to the original map")
        axes[-1].legend(fontsize=8)
        undefined = "; x = undefined (a constant map)" if np.isnan(values).any() else ""
        lead = f"{about}: " if about else ""
        figure.suptitle(f"{lead}{self._what()}; 1 = unchanged{undefined}", fontsize=10)
        figure.supxlabel(self._step_label(), fontsize=8)
        figure.tight_layout()
        return figure

    def _named(self, rule: str) -> str:
        """A rule as its curves and rows are labelled: with gates, the rules that use them
        say so (the gradient rule is the exact gradient either way)."""
        gated = self.activations == "gated" and rule_named(rule).backward
        return f"{rule}, gates (ours)" if gated else rule

    def _what(self) -> str:
        direction = "from the output down" if self.order == "top_down" else "from the input up"
        return f"{self.mode.capitalize()} randomisation, {direction}"

    def _step_label(self) -> str:
        if self.mode == "cascading":
            return "randomised: every block up to and including this one"
        return "randomised: this block alone"

    def grid(self, tile: int = 96) -> np.ndarray:
        """RGBA picture of the maps: rows are rules, columns are steps (``|map|``)."""
        rows = []
        for rule in self.rules:
            tiles = [
                render.fit(render.saliency(np.abs(self.maps[(rule, s)])[None], 99.0), tile)
                for s in range(len(self.steps))
            ]
            rows.append(np.concatenate(_with_gaps(tiles, axis=1), axis=1))
        return np.concatenate(_with_gaps(rows, axis=0), axis=0)

    def grid_figure(self) -> NotebookFigure:
        """The map grid with rule and step labels: ``|map|`` of the first image, each tile
        scaled to its own 99th percentile (black 0, white at or above it)."""
        figure = NotebookFigure(
            figsize=(1.15 * len(self.steps) + 1, 1.25 * len(self.rules) + 1.3), layout="constrained"
        )
        axes = figure.subplots(len(self.rules), len(self.steps), squeeze=False)
        for row, rule in enumerate(self.rules):
            for column, step in enumerate(self.steps):
                axis = axes[row, column]
                axis.imshow(_clipped(self.maps[(rule, column)]), cmap="gray", vmin=0.0, vmax=1.0)
                axis.set_xticks([]), axis.set_yticks([])
                if row == 0:
                    axis.set_title(step, fontsize=7, rotation=45)
            axes[row, 0].set_ylabel(self._named(rule), fontsize=9)
        gray_key(figure, axes, "|map| / its 99th percentile (clipped at 1)")
        figure.suptitle(f"|map| at each step: {self._what().lower()}", fontsize=10)
        figure.supxlabel(self._step_label(), fontsize=8)
        return figure


METRIC_TITLES = {
    "spearman_abs": "rank correlation of |map|",
    "spearman": "rank correlation of the signed map",
    "ssim": "structural similarity (SSIM)",
    "hog": "HOG feature similarity",
}


def _clipped(values: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    magnitude = np.abs(values)
    top = np.percentile(magnitude, percentile)
    return np.clip(magnitude / top, 0.0, 1.0) if top > 0 else magnitude


def parameter_blocks(model: nn.Module) -> list[str]:
    """Module paths re-initialised together, in registration (roughly forward) order.

    The model's direct children that hold parameters, with containers such as
    ``nn.Sequential`` or ``nn.ModuleList`` opened one level (``layer1.0``,
    ``_blocks.3``, ``features.7``).
    """
    blocks = []
    for name, child in model.named_children():
        if not _has_parameters(child):
            continue
        if isinstance(child, (nn.Sequential, nn.ModuleList)):
            blocks += [f"{name}.{n}" for n, c in child.named_children() if _has_parameters(c)]
        else:
            blocks.append(name)
    return blocks


def reinitialise(model: nn.Module, block: str, seed: int) -> None:
    """Re-draw the parameters (and reset the statistics) of ``model``'s ``block`` in place,
    reproducibly from ``seed``, without touching torch's global random state."""
    module = model.get_submodule(block)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for part in module.modules():
            if hasattr(part, "reset_parameters"):
                part.reset_parameters()
            elif list(part.parameters(recurse=False)):
                for parameter in part.parameters(recurse=False):
                    nn.init.normal_(parameter, std=float(parameter.detach().std()) or 0.02)
            if hasattr(part, "reset_running_stats"):
                part.reset_running_stats()


def cascading_randomization(
    model: nn.Module,
    inputs: torch.Tensor,
    target: Target = None,
    rules: Sequence[str] = ("gradient", "deconvnet", "guided"),
    order: str = "top_down",
    seed: int = 0,
    max_steps: int | None = None,
    progress: Progress = True,
    activations: str = "relu",
) -> SanityResult:
    """Randomise blocks cumulatively, from the output down (``order="top_down"``) or
    from the input up (``"bottom_up"``), on a copy of ``model``.

    ``inputs``: ``(N, C, H, W)`` or ``(C, H, W)``. ``target`` as in
    :meth:`GuidedBackprop.explain`; ``None`` fixes each item's class as
    predicted by the *original* model. ``max_steps`` stops after that many
    blocks. ``progress``: a tqdm bar, ``False``, or ``callback(done, total)``.
    ``activations``: the engine's (``"gated"``: GELU, SiLU, Mish and Hardswish get the
    rules through their gates, our extension; see :class:`gbp_widgets.GuidedBackprop`).
    """
    args = (model, inputs, target, rules, order, seed, max_steps, progress, activations)
    return _run(*args, cumulative=True)


def independent_randomization(
    model: nn.Module,
    inputs: torch.Tensor,
    target: Target = None,
    rules: Sequence[str] = ("gradient", "deconvnet", "guided"),
    order: str = "top_down",
    seed: int = 0,
    max_steps: int | None = None,
    progress: Progress = True,
    activations: str = "relu",
) -> SanityResult:
    """Randomise one block at a time with every other block as trained; otherwise as
    :func:`cascading_randomization`."""
    args = (model, inputs, target, rules, order, seed, max_steps, progress, activations)
    return _run(*args, cumulative=False)


def _run(model, inputs, target, rules, order, seed, max_steps, progress, activations, cumulative):
    check_activations(activations)
    if order not in ("top_down", "bottom_up"):
        raise ValueError(f"order must be 'top_down' or 'bottom_up', got {order!r}")
    blocks = parameter_blocks(model)
    if not blocks:
        raise ValueError("this model has no parameterised blocks to randomise")
    if order == "top_down":
        blocks = blocks[::-1]
    blocks = blocks[:max_steps] if max_steps is not None else blocks
    working = copy.deepcopy(model).eval()
    batch = prepare_inputs(working, inputs).tensors[0]
    with torch.no_grad():
        logits = working(batch)
    classes = target if target is not None else class_targets(None, logits).cpu()
    mode = "cascading" if cumulative else "independent"
    result = SanityResult(mode, tuple(rules), [ORIGINAL, *blocks], order, activations)
    original = _maps(working, batch, classes, rules, activations)
    _record(result, 0, ORIGINAL, original, original)
    report = _progress(progress, len(blocks))
    for step, block in enumerate(blocks, start=1):
        if not cumulative:
            working = copy.deepcopy(model).eval()
        reinitialise(working, block, seed + step)
        _record(result, step, block, original, _maps(working, batch, classes, rules, activations))
        report(step)
    return result


def _maps(model, batch, classes, rules, activations) -> dict[str, list[np.ndarray]]:
    engine = GuidedBackprop(model, activations=activations)
    maps = {}
    for rule in rules:
        attribution = engine.explain(batch, target=classes, rule=rule, capture_masks=False)
        maps[rule] = [normalised_map(a) for a in attribution.attribution.detach().cpu().numpy()]
    return maps


def _record(result: SanityResult, step: int, block: str, original, current) -> None:
    for rule in result.rules:
        result.maps[(rule, step)] = current[rule][0]
        scores = [similarities(a, b) for a, b in zip(original[rule], current[rule], strict=True)]
        for metric in METRICS:
            values = [score[metric] for score in scores]
            result.records.append(
                {
                    "step": step,
                    "randomised": block,
                    "rule": rule,
                    "metric": metric,
                    "value": float(np.mean(values)),
                }
            )


def _progress(progress: Progress, total: int) -> Callable[[int], None]:
    if callable(progress):
        return lambda done: progress(done, total)
    bar = tqdm(total=total, desc="randomising", unit="block", disable=not progress)

    def advance(done: int) -> None:
        bar.update(1)
        if done == total:
            bar.close()

    return advance


def _has_parameters(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def _with_gaps(pictures: list[np.ndarray], axis: int) -> list[np.ndarray]:
    shape = list(pictures[0].shape)
    shape[axis] = 2
    gap = np.full(shape, 255, dtype=np.uint8)
    spaced = []
    for picture in pictures:
        spaced += [picture, gap]
    return spaced[:-1]
