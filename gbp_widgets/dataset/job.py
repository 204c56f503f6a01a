"""``explain_dataset``: every item of a data set through the engine, a Parquet shard per batch,
in this process or on Ray actors."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from gbp_widgets.dataset.results import DatasetResults
from gbp_widgets.dataset.rows import RowMaker, on_device
from gbp_widgets.dataset.sources import Item, PictureFolder, data_length, items
from gbp_widgets.dataset.store import ResultsFolder
from gbp_widgets.engine import RULES, check_activations
from gbp_widgets.metrics import CURVES
from gbp_widgets.models import load_model

ENGINES = ("local", "ray")


def explain_dataset(
    model: nn.Module | str,
    data: object,
    out: str | Path,
    *,
    rule: str = "guided",
    activations: str = "relu",
    target: int | str | None = None,
    output: object = None,
    preprocess=None,
    classes: Sequence[str] | None = None,
    batch_size: int = 32,
    device: str | torch.device | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    ray_actors: int | None = None,
    attributions: bool = False,
    metrics: Sequence[str] = (),
    metric_steps: int = 100,
) -> DatasetResults:
    """Explain every item of ``data`` into a Parquet folder ``out``, one row per item.

    ``model``: a module, or a model name for :func:`gbp_widgets.load_model` (its
    preprocessing and class names then come with it). ``data``: a torch ``Dataset`` or
    ``DataLoader`` (without shuffling) yielding ``input`` or ``(input, label)``, inputs
    already preprocessed; or a folder of pictures (class sub-folders give labels, as
    ``ImageFolder``), read through ``preprocess`` (a PIL picture to a ``(C, H, W)``
    tensor). ``target``: ``None`` for each item's predicted class, a class index, or
    ``"label"`` for each item's own label. ``activations``: ``"relu"`` (the published
    method) or ``"gated"`` (GELU, SiLU, Mish and Hardswish get the rule through their gates:
    our extension; see :class:`gbp_widgets.GuidedBackprop`). Running the same call again
    resumes.

    Each row: ``index``, ``path``, ``label``, ``label_name``, ``predicted``, ``top5`` and
    ``top5_probability``, ``target``, ``rule``, ``saliency`` (``|map|``, max over
    channels, at most 112 px a side, float16), ``pass_fraction`` (the share of units the
    rule lets through at every site, in the engine's site order; at a gated site the mean
    of its soft mask) and ``skipped`` (why an
    item could not be read; its other fields are empty). ``attributions=True`` adds each
    item's whole map: ``attribution`` (float32, flattened) and ``attribution_shape``, so
    ``numpy.reshape(row.attribution, row.attribution_shape)`` reads it without gbp-widgets.
    ``metrics=("deletion", "insertion")`` adds ``deletion_auc`` and ``insertion_auc``: the
    areas under each item's curves of the target's probability over ``metric_steps``
    steps (:func:`gbp_widgets.metrics.deletion`, zeros baseline, and
    :func:`~gbp_widgets.metrics.insertion`, blurred baseline), ``batch_size`` copies per
    forward pass; each costs ``metric_steps + 1`` forward passes per item.

    ``engine="ray"`` runs the same job as a Ray Data pipeline on ``ray_actors`` actors
    (default: one per CPU of the cluster, or one per GPU with ``device="cuda"``), each
    loading the model once. It joins the Ray session this process has started, else the
    cluster at ``ray_address`` or ``RAY_ADDRESS``, else starts one on this machine.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r} is not available: use {', '.join(map(repr, ENGINES))}")
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}: use one of {', '.join(RULES)}")
    check_activations(activations)
    if not (target is None or target == "label" or isinstance(target, int)):
        raise ValueError(f"target {target!r}: use None (predicted), a class index or 'label'")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    metrics = _check_metrics(metrics, metric_steps)
    if ray_actors is not None and ray_actors < 1:
        raise ValueError(f"ray_actors must be at least 1, got {ray_actors}")
    if isinstance(model, str):
        loaded = load_model(model)
        model, preprocess = loaded.model, preprocess or loaded.preprocess
        classes = classes or loaded.classes
    if isinstance(data, (str, Path)):
        if preprocess is None:
            raise ValueError(
                "a folder of pictures needs preprocess= (a PIL picture to a (C, H, W) tensor), "
                "or a model name, whose preprocessing comes with it"
            )
        data = PictureFolder(data, preprocess)
    length = data_length(data)
    folder = ResultsFolder(out)
    folder.open(
        {
            "weights": weights_fingerprint(model),
            "length": length,
            "rule": rule,
            "activations": activations,
            "target": target,
            "output": repr(output) if output is not None else None,
            "attributions": bool(attributions),
            "metrics": list(metrics),
            "metric_steps": metric_steps if metrics else None,
            "classes": list(classes) if classes is not None else None,
            "label_names": list(data.classes) if isinstance(data, PictureFolder) else None,
        }
    )
    done = folder.done()
    job = (rule, target, output, attributions, activations, metrics, metric_steps)
    if engine == "ray":
        # Ray is an extra, imported only when asked for.
        from gbp_widgets.dataset.on_ray import explain_on_ray

        explain_on_ray(
            model,
            data,
            folder,
            done,
            job,
            batch_size=batch_size,
            device=device,
            address=ray_address,
            actors=ray_actors,
        )
    else:
        _explain_here(model, data, folder, done, job, batch_size, device)
    folder.summary()
    return DatasetResults(out)


def _explain_here(model, data, folder: ResultsFolder, done: set[int], job, batch_size, device):
    # tqdm.auto draws a widget bar in a notebook, so it is imported only when a job runs.
    from tqdm.auto import tqdm

    maker = RowMaker(on_device(model, device), *job)
    with tqdm(
        total=data_length(data), initial=len(done), unit="item", desc="explain_dataset"
    ) as bar:
        for batch in _batches(items(data, done), batch_size):
            folder.write(maker.rows(batch))
            bar.update(len(batch))


def _check_metrics(metrics: Sequence[str], steps: int) -> tuple[str, ...]:
    """``metrics`` as a tuple of known curve names, each once, with a usable step count."""
    if isinstance(metrics, str):
        metrics = (metrics,)
    unknown = [name for name in metrics if name not in CURVES]
    if unknown:
        raise ValueError(
            f"unknown metrics {', '.join(map(repr, unknown))}: use {', '.join(map(repr, CURVES))}"
        )
    if len(set(metrics)) != len(metrics):
        raise ValueError(f"metrics {list(metrics)} names one twice: name each once")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"metric_steps must be a whole number >= 1, got {steps!r}")
    return tuple(metrics)


def weights_fingerprint(model: nn.Module) -> str:
    """A SHA-256 of the model's parameters and buffers, names and values."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def _batches(stream: Iterator[Item], size: int) -> Iterator[list[Item]]:
    while batch := list(itertools.islice(stream, size)):
        yield batch
