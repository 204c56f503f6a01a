"""Engine cost against a plain input gradient, side by side in one run.

Prints, for ResNet-50 at 224 px (random weights) on the CPU, and on CUDA when
present: guided explain time / plain input-gradient time (forward + backward,
no tool) for batch 1 and 8, with masks captured (the default) and without, the
same ratio for captum's GuidedBackprop, and the captured masks' memory / the
fp32 activations they describe. Each round runs every method once, in turn; a ratio is
taken within a round, and the table gives the median over the rounds with the lowest and
highest in brackets (the spread), so machine noise hits every method alike and a
difference smaller than the spread is no difference.

Targets: guided <= 1.05x the plain gradient; masks <= 1/16 of activations.

    python benchmarks/engine.py [--repeats 7] [--batches 1 8] [--devices cpu cuda]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import torch
import torchvision
from options import repeats

from gbp_widgets import GuidedBackprop


def plain_gradient(model, x, target):
    leaf = x.detach().clone().requires_grad_(True)
    logits = model(leaf)
    seed = torch.zeros_like(logits)
    seed[:, target] = 1.0
    return torch.autograd.grad(logits, leaf, seed)[0]


def captum_guided(model):
    from captum.attr import GuidedBackprop as CaptumGuidedBackprop

    explainer = CaptumGuidedBackprop(model)

    def run(x, target):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return explainer.attribute(x.clone(), target=target)

    return run


def engine_guided(model, capture_masks=True):
    # One engine per model, as the Explorer and a notebook keep theirs: it learns the
    # model's sites on its first pass (the warm-up) and hooks its ReLU modules after.
    engine = GuidedBackprop(model)
    return lambda x, target: (
        engine.explain(x, target=target, capture_masks=capture_masks).attribution
    )


def timed(fn, device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def compare(model, x, repeats: int) -> dict[str, list[float]]:
    """Seconds per method, one per round; each round runs every method once, in turn."""
    methods = {
        "plain": lambda x, target: plain_gradient(model, x, target),
        "guided": engine_guided(model),
        "no masks": engine_guided(model, capture_masks=False),
    }
    try:
        import captum  # noqa: F401

        methods["captum"] = captum_guided(model)
    except ImportError:
        pass
    for fn in methods.values():  # warm-up: allocator, kernels, lazy imports, the plan
        fn(x, 1)
    samples = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            samples[name].append(timed(lambda fn=fn: fn(x, 1), x.device))
    return samples


def ratio(samples: dict[str, list[float]], name: str) -> str:
    """``name``'s time over the plain gradient's of the same round: the median of the
    rounds, then the lowest and highest, so a claim of "ahead" can be read against the
    spread of the rounds."""
    if name not in samples:
        return "n/a"
    rounds = [t / plain for t, plain in zip(samples[name], samples["plain"], strict=True)]
    return f"{statistics.median(rounds):.3f} [{min(rounds):.3f}-{max(rounds):.3f}]"


def mask_memory_ratio(model, x) -> float:
    sites = GuidedBackprop(model).explain(x, target=1).sites
    mask_bytes = sum(site.mask_nbytes for site in sites)
    activation_bytes = sum(4 * torch.Size(site.shape).numel() for site in sites)
    return mask_bytes / activation_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=repeats, default=9)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error("--repeats: at least 3 rounds, for a spread as well as a median")
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    devices = [d for d in args.devices if d == "cpu" or torch.cuda.is_available()]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {platform.processor()}"
    )
    print(
        "| device | batch | plain grad (s) | guided / plain | guided, no masks / plain "
        "| captum / plain | masks / fp32 acts |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in devices:
        device = torch.device(name)
        model.to(device)
        label = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        for batch in args.batches:
            x = torch.randn(batch, 3, args.size, args.size, device=device)
            samples = compare(model, x, args.repeats)
            print(
                f"| {label} | {batch} | {statistics.median(samples['plain']):.3f} | "
                f"{ratio(samples, 'guided')} | {ratio(samples, 'no masks')} | "
                f"{ratio(samples, 'captum')} | {mask_memory_ratio(model, x):.4f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
