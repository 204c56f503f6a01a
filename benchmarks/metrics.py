"""Deletion and insertion against the forward passes they are made of, side by side in one run.

Prints, for EfficientNet-Lite0 (the default model) at 224 px on the CPU, and on CUDA when
present: the time of ``deletion`` + ``insertion`` of one picture with ``--steps`` steps at
each ``--batches`` size, divided by the time of the ``2 * (steps + 1)`` plain forward passes
(``torch.no_grad``, eval mode) in batches of the same size, as a plain loop over the steps of
each curve would run them; medians of interleaved repeats. Then memory: the process's peak
resident memory after ``explain_dataset`` with both metrics over a few pictures, and after
eight times as many.

Target: at most 1.2x the plain forward passes; memory flat over a data set.

    python benchmarks/metrics.py [--repeats 5] [--steps 100] [--batches 32] [--devices cpu cuda]
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import tempfile
from pathlib import Path

import torch
from engine import timed
from options import repeats

from gbp_widgets import DEFAULT_MODEL, GuidedBackprop, explain_dataset, load_model, sample_image
from gbp_widgets.metrics import deletion, insertion


def both_curves(model, x, attribution, steps: int, batch: int) -> None:
    deletion(model, x, attribution, 0, steps=steps, batch_size=batch)
    insertion(model, x, attribution, 0, steps=steps, batch_size=batch)


def plain_passes(model, x, steps: int, batch: int) -> None:
    """What the curves cost at the least: ``steps + 1`` copies of the picture per curve
    through the model, ``batch`` at a time, without autograd."""
    with torch.no_grad():
        for _ in range(2):
            for first in range(0, steps + 1, batch):
                count = min(batch, steps + 1 - first)
                model(x.expand(count, *x.shape[1:]).clone())


def compare(model, x, attribution, steps: int, batch: int, repeats: int) -> dict[str, float]:
    methods = {
        "plain": lambda: plain_passes(model, x, steps, batch),
        "curves": lambda: both_curves(model, x, attribution, steps, batch),
    }
    for fn in methods.values():  # warm-up: allocator, kernels
        fn()
    samples = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            samples[name].append(timed(fn, x.device))
    return {name: statistics.median(values) for name, values in samples.items()}


def peak_memory_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_over_a_data_set(model, x, few: int, steps: int) -> None:
    """explain_dataset with both metrics over ``few`` pictures, then eight times as many,
    in batches of ``few``: the peak should not grow with the number of batches."""
    with tempfile.TemporaryDirectory() as folder:
        for count in (few, 8 * few):
            data = x.expand(count, *x.shape[1:]).clone()
            explain_dataset(
                model,
                data,
                Path(folder) / str(count),
                batch_size=few,
                metrics=("deletion", "insertion"),
                metric_steps=steps,
            )
            print(
                f"peak resident memory after explain_dataset with metrics on {count} "
                f"pictures: {peak_memory_mib():.0f} MiB"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=repeats, default=5)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batches", type=int, nargs="+", default=[32])
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    args = parser.parse_args()
    loaded = load_model(DEFAULT_MODEL)
    model = loaded.model.eval()
    devices = [d for d in args.devices if d == "cpu" or torch.cuda.is_available()]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {platform.processor()}"
    )
    print(f"| device | batch | {2 * (args.steps + 1)} plain passes (s) | curves / plain |")
    print("|---|---|---|---|")
    for name in devices:
        device = torch.device(name)
        model.to(device)
        label = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        x = loaded.preprocess(sample_image("chelsea")).unsqueeze(0).to(device)
        attribution = GuidedBackprop(model).explain(x, 0).attribution
        for batch in args.batches:
            times = compare(model, x, attribution, args.steps, batch, args.repeats)
            print(
                f"| {label} | {batch} | {times['plain']:.2f} | "
                f"{times['curves'] / times['plain']:.3f} |",
                flush=True,
            )
    model.to("cpu")
    x = loaded.preprocess(sample_image("chelsea")).unsqueeze(0)
    memory_over_a_data_set(model, x, few=4, steps=10)


if __name__ == "__main__":
    main()
