"""How live the Explorer feels: control changes against one full guided explanation.

For ResNet-50 (random weights) and the default EfficientNet-Lite0 on the CPU at
224 px, prints the time of a site or channel switch, a target switch and a rule
switch in the Explorer (state change, passes, pictures rendered and encoded for
the canvas), each as a ratio to one full guided ``explain`` of the same image,
measured side by side in one run (medians of interleaved repeats).

Targets: site/channel switch <= 0.1x; target or rule switch <= 0.6x.

    python benchmarks/explorer.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch
import torchvision
from options import repeats

from gbp_widgets import Explorer, GuidedBackprop, load_model, sample_image


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def timed_switch(explorer: Explorer, name: str, value) -> float:
    """Seconds from setting a trait to the panels being rendered and sent."""
    start = time.perf_counter()
    setattr(explorer, name, value)
    explorer.refresh()
    return time.perf_counter() - start


def measure(explorer: Explorer, repeats: int) -> dict[str, float]:
    session = explorer.session
    engine = GuidedBackprop(session.engine.model)
    sites = len(session.site_names)
    samples: dict[str, list[float]] = {
        k: [] for k in ("explain", "site", "channel", "target", "rule")
    }
    targets = [int(i) for i, _, _ in session.top_classes(2 * repeats + 2)]
    for step in range(repeats):
        samples["explain"].append(timed(lambda: engine.explain(session.inputs)))
        samples["site"].append(timed_switch(explorer, "site", (step * 5 + 3) % sites))
        samples["channel"].append(timed_switch(explorer, "channel", step % 4))
        # A class never asked for before, so the backward pass is not cached.
        samples["target"].append(timed_switch(explorer, "target", targets[step + 1]))
        rule = "deconvnet" if explorer.rule != "deconvnet" else "gradient"
        samples["rule"].append(timed_switch(explorer, "rule", rule))
        explorer.channel = -1
        explorer.refresh()
    return {name: statistics.median(values) for name, values in samples.items()}


def explorers() -> dict[str, Explorer]:
    torch.manual_seed(0)
    resnet = torchvision.models.resnet50(weights=None).eval()
    return {
        "efficientnet_lite0": Explorer(),
        "resnet50 (random)": Explorer(model=resnet, image=sample_image("chelsea")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=repeats, default=9)
    args = parser.parse_args()
    load_model()  # warm the imports so the first model is not charged for them
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(
        "| model | explain (s) | site / explain | channel / explain | target / explain "
        "| rule / explain |"
    )
    print("|---|---|---|---|---|---|")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, explorer in explorers().items():
            times = measure(explorer, args.repeats)
            base = times["explain"]
            print(
                f"| {name} | {base:.3f} | {times['site'] / base:.3f} | "
                f"{times['channel'] / base:.3f} | {times['target'] / base:.3f} | "
                f"{times['rule'] / base:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
