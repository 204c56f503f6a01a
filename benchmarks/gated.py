"""Guided backprop with gates (``activations="gated"``) against a plain input gradient on a
GELU model, side by side in one run.

Prints, for timm's ViT-tiny at 224 px (random weights) on the CPU, and on CUDA when
present: gated guided explain time / plain input-gradient time (forward + backward, no
tool) for batch 1 and 8, without masks and with them (the soft gates and the backward
masks), and the ``activations="relu"`` engine for scale (which leaves the GELUs plain).
Each engine is made once, as a loop or the Explorer keeps it; medians of interleaved
repeats.

Targets: gated guided <= 1.10x the plain gradient; with masks <= 1.20x.

    python benchmarks/gated.py [--repeats 7] [--batches 1 8] [--devices cpu cuda]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import warnings

import timm
import torch
from engine import plain_gradient, timed
from options import repeats

from gbp_widgets import GuidedBackprop, GuidedBackpropWarning


def explain(activations: str, capture_masks: bool):
    engines: dict[int, GuidedBackprop] = {}

    def run(model, x, target):
        # One engine per model, as a loop over a data set or the Explorer keeps it.
        if id(model) not in engines:
            engines[id(model)] = GuidedBackprop(model, activations=activations)
        engine = engines[id(model)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GuidedBackpropWarning)
            return engine.explain(x, target=target, capture_masks=capture_masks).attribution

    return run


METHODS = {
    "plain": plain_gradient,
    "gated": explain("gated", capture_masks=False),
    "gated, masks": explain("gated", capture_masks=True),
    "relu only": explain("relu", capture_masks=False),
}


def compare(model, x, repeats: int) -> dict[str, float]:
    for fn in METHODS.values():  # warm-up: allocator, kernels, lazy imports
        fn(model, x, 1)
    samples = {name: [] for name in METHODS}
    for _ in range(repeats):
        for name, fn in METHODS.items():
            samples[name].append(timed(lambda fn=fn: fn(model, x, 1), x.device))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=repeats, default=7)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    args = parser.parse_args()
    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False).eval()
    devices = [d for d in args.devices if d == "cpu" or torch.cuda.is_available()]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {platform.processor()}"
    )
    print(
        "| device | batch | plain grad (s) | gated guided / plain | gated, masks / plain "
        "| relu-only engine / plain |"
    )
    print("|---|---|---|---|---|---|")
    for name in devices:
        device = torch.device(name)
        model.to(device)
        label = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        for batch in args.batches:
            x = torch.randn(batch, 3, 224, 224, device=device)
            times = compare(model, x, args.repeats)
            plain = times["plain"]
            print(
                f"| {label} | {batch} | {plain:.3f} | {times['gated'] / plain:.3f} | "
                f"{times['gated, masks'] / plain:.3f} | {times['relu only'] / plain:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
