"""The ``engine="ray"`` job: the same rows made by a Ray Data pipeline. The positions still to
do are read as a dataset, ``map_batches`` hands them to actors that each load the model once
and read their items themselves, and a datasink writes every block as a shard of the
results folder, whole or not at all.

Ray (``pip install "gbp-widgets[ray]"``) is imported here only."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable

import torch
from torch import nn

from gbp_widgets.dataset.rows import RowMaker, on_device
from gbp_widgets.dataset.sources import data_length, item_at
from gbp_widgets.dataset.store import ResultsFolder

try:
    import ray
    import ray.data
    from ray.data.datasource import Datasink
except ImportError as err:
    raise ImportError('engine="ray" runs on Ray Data: pip install "gbp-widgets[ray]"') from err


def explain_on_ray(
    model: nn.Module,
    data: object,
    folder: ResultsFolder,
    done: set[int],
    job: tuple,
    *,
    batch_size: int,
    device: str | torch.device | None,
    address: str | None,
    actors: int | None,
) -> None:
    """Write a row for every position of ``data`` not in ``done`` into ``folder``.

    ``job`` is ``(rule, target, output, attributions)``. Each actor takes one GPU when
    ``device`` is a CUDA device, else one CPU."""
    pending = [i for i in range(data_length(data)) if i not in done]
    if not pending:
        return
    connect(address)
    on_gpu = device is not None and torch.device(device).type == "cuda"
    # A block per batch, so shards land (and a stopped job resumes) batch by batch.
    blocks = math.ceil(len(pending) / batch_size)
    if actors is None:
        resource = "GPU" if on_gpu else "CPU"
        actors = max(1, int(ray.cluster_resources().get(resource, 1)))
    actors = min(actors, blocks)
    shared = ray.put((model, data, job, device))
    positions = ray.data.from_items([{"index": i} for i in pending], override_num_blocks=blocks)
    rows = positions.map_batches(
        _Explainer,
        fn_constructor_args=(shared,),
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=actors,
        num_cpus=1,
        num_gpus=1 if on_gpu else 0,
    )
    # Writing a shard is light; asking no CPU for it keeps it from waiting on the actors,
    # which hold the CPUs until every batch is done.
    rows.write_datasink(_ShardSink(folder.path), ray_remote_args={"num_cpus": 0})
    _check_each_item_once(folder, data_length(data))


def connect(address: str | None) -> None:
    """Join the session this process has, else the cluster at ``address`` or
    ``RAY_ADDRESS``, else start one on this machine (it stays up for the next job, as a
    session Ray Data starts by itself does)."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address)
    else:
        ray.init(include_dashboard=False)


class _Explainer:
    """A Ray actor's work: the model loaded once, then each batch of positions read from
    the data and made into rows."""

    def __init__(self, shared) -> None:
        model, self.data, job, device = (
            ray.get(shared) if isinstance(shared, ray.ObjectRef) else shared
        )
        if device is not None and torch.device(device).type == "cuda":
            # The GPU Ray gave this actor is the only one it sees.
            device = "cuda"
        self.maker = RowMaker(on_device(model, device), *job)

    def __call__(self, batch: dict):
        return self.maker.rows([item_at(self.data, int(i)) for i in batch["index"]])


class _ShardSink(Datasink):
    """Writes each block Ray hands it as one shard of the results folder."""

    def __init__(self, path) -> None:
        self.path = path

    def write(self, blocks: Iterable, ctx) -> int:
        folder, written = ResultsFolder(self.path), 0
        for block in blocks:
            if block.num_rows:
                folder.write(block)
                written += block.num_rows
        return written


def _check_each_item_once(folder: ResultsFolder, length: int) -> None:
    """Every position written exactly once: what retried Ray tasks must still leave."""
    counts = folder.index_counts()
    twice = sorted(i for i, count in counts.items() if count > 1)
    missing = length - len(counts)
    if twice or missing:
        raise RuntimeError(
            f"the Ray job left {missing} items unwritten and {len(twice)} written twice "
            f"(first: {twice[:5]}); run the same call again to finish it"
        )
