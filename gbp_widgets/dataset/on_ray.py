"""The ``engine="ray"`` job: the same rows made by a Ray Data pipeline. The positions still to
do are read as a dataset, one block per batch; ``map_batches`` hands them to actors that
each load the model once, read their items themselves and write each batch's rows as a
shard of the results folder, whole or not at all; the driver follows the positions done.

The actors write their own shards rather than a separate write stage: Ray ran each write
task in a fresh worker process that imported torch (7 to 10 s of CPU each), which on a small
machine took the cores from the actors and halved the throughput.

Ray (``pip install -e ".[ray]"`` in a clone) is imported here only."""

from __future__ import annotations

import math
import os
from contextlib import contextmanager

import torch
from torch import nn

from gbp_widgets.dataset.rows import RowMaker, on_device
from gbp_widgets.dataset.sources import data_length, item_at
from gbp_widgets.dataset.store import ResultsFolder

try:
    import ray
    import ray.data
except ImportError as err:
    raise ImportError(
        'engine="ray" runs on Ray Data: in a clone of gbp-widgets, pip install -e ".[ray]"'
    ) from err


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

    ``job`` is ``RowMaker``'s arguments after the model: ``(rule, target, output,
    attributions, activations, metrics, metric_steps)``. Each actor takes one GPU when
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
    shared = ray.put((model, data, job, device, str(folder.path)))
    with _own_progress_bar():
        positions = ray.data.from_items([{"index": i} for i in pending], override_num_blocks=blocks)
    written = positions.map_batches(
        _Explainer,
        fn_constructor_args=(shared,),
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=actors,
        num_cpus=1,
        num_gpus=1 if on_gpu else 0,
    )
    # tqdm.auto draws a widget bar in a notebook, so it is imported only when a job runs.
    from tqdm.auto import tqdm

    length = data_length(data)
    with tqdm(total=length, initial=len(done), unit="item", desc="explain_dataset (Ray)") as bar:
        for batch in written.iter_batches(batch_size=None, batch_format="numpy"):
            bar.update(len(batch["index"]))
    _check_each_item_once(folder, length)


@contextmanager
def _own_progress_bar():
    """Datasets made inside draw none of Ray Data's progress bars (they keep the context
    they were made with): the job draws one line of its own, as the local engine does."""
    context = ray.data.DataContext.get_current()
    shown = context.enable_progress_bars
    context.enable_progress_bars = False
    try:
        yield
    finally:
        context.enable_progress_bars = shown


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
    the data, made into rows and written as a shard."""

    def __init__(self, shared) -> None:
        shared = ray.get(shared) if isinstance(shared, ray.ObjectRef) else shared
        model, self.data, job, device, path = shared
        self.folder = ResultsFolder(path)
        if device is not None and torch.device(device).type == "cuda":
            # The GPU Ray gave this actor is the only one it sees.
            device = "cuda"
        self.maker = RowMaker(on_device(model, device), *job)

    def __call__(self, batch: dict) -> dict:
        """Write the rows of a batch of positions as a shard; the positions written."""
        rows = self.maker.rows([item_at(self.data, int(i)) for i in batch["index"]])
        self.folder.write(rows)
        return {"index": batch["index"]}


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
