"""Where the engine's time goes, part by part, side by side in one run.

ResNet-50 at 224 px (random weights) on the CPU. Each round runs every configuration once,
in turn, and each is taken as a ratio to the plain input gradient of its round (forward +
backward, no tool); the table gives the median over the rounds with the lowest and highest
in brackets, and its median time over the plain gradient's in milliseconds. The
configurations, each one step further than the one before it:

- the plain gradient under an empty ``TorchFunctionMode``: what watching every call costs;
- an engine's first pass (it watches every call and learns the model's plan), guided, no masks;
- later passes of the same engine (its ReLU modules watched only): gradient rule, no masks,
  which is the hooks and the rule's autograd Function against PyTorch's own ReLU backward;
- the guided rule, no masks: the pass that keeps only positive gradients;
- the guided rule with masks: packing each ReLU's output and incoming gradient to bits.

    python benchmarks/engine_parts.py [--repeats 21] [--batch 1]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import torchvision
from engine import plain_gradient
from options import repeats
from torch.overrides import TorchFunctionMode

from gbp_widgets import GuidedBackprop


class Watching(TorchFunctionMode):
    """Sees every call and does nothing else, as the engine's mode does for most calls."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def configurations(model):
    engine = GuidedBackprop(model)

    def watched(x, target):
        with Watching():
            return plain_gradient(model, x, target)

    def later(rule, masks):
        return lambda x, target: engine.explain(x, target=target, rule=rule, capture_masks=masks)

    return {
        "plain gradient": lambda x, target: plain_gradient(model, x, target),
        "under an empty function mode": watched,
        "first pass (every call watched)": lambda x, target: GuidedBackprop(model).explain(
            x, target=target, capture_masks=False
        ),
        "later: gradient rule, no masks": later("gradient", False),
        "later: guided, no masks": later("guided", False),
        "later: guided, masks": later("guided", True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=repeats, default=21)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    x = torch.randn(args.batch, 3, 224, 224)
    runs = configurations(model)
    for fn in runs.values():  # warm-up, and the engine's plan
        fn(x, 1)
    seconds = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn(x, 1)
            seconds[name].append(time.perf_counter() - start)
    plain = seconds["plain gradient"]
    milliseconds = 1000 * statistics.median(plain)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"{platform.processor()}, batch {args.batch}, plain {milliseconds:.1f} ms"
    )
    print("| configuration | / plain | spread | ms over plain |")
    print("|---|---|---|---|")
    for name, times in seconds.items():
        ratios = [t / p for t, p in zip(times, plain, strict=True)]
        over = statistics.median(t - p for t, p in zip(times, plain, strict=True))
        print(
            f"| {name} | {statistics.median(ratios):.3f} | {min(ratios):.3f}-{max(ratios):.3f} "
            f"| {1000 * over:+.1f} |"
        )


if __name__ == "__main__":
    main()
