"""explain_dataset's throughput against plain loops over the same DataLoader, side by side.

ResNet-18 at 224 px (random weights, CPU unless --device says otherwise), batch 32:
items per second of

* a plain input-gradient loop (forward, backward for the predicted class, nothing kept),
* captum's GuidedBackprop in the same loop,
* explain_dataset writing Parquet (masks captured for the per-site pass fractions),

and their time ratios to the plain loop, each method run once per round, rounds interleaved
so machine noise hits all alike. Then the resident memory of explain_dataset on a small CNN
over many items, sampled every shard, to show it stays flat in the data set's size.

Target: explain_dataset <= 1.15x the plain loop's time.

With ``--ray N``, the same job with ``engine="ray"`` on N actors of a Ray started on this
machine, beside the others: its time includes starting the actors (each loads the model).

    python benchmarks/dataset.py [--items 512] [--rounds 2] [--memory-items 2000] [--ray 2]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gbp_widgets import explain_dataset


def plain_loop(model, loader, device):
    for (x,) in loader:
        leaf = x.to(device).requires_grad_(True)
        logits = model(leaf)
        chosen = logits.gather(1, logits.argmax(1, keepdim=True)).sum()
        torch.autograd.grad(chosen, leaf)


def captum_loop(model, loader, device):
    from captum.attr import GuidedBackprop

    explainer = GuidedBackprop(model)
    for (x,) in loader:
        x = x.to(device).requires_grad_(True)
        with torch.no_grad():
            target = model(x).argmax(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explainer.attribute(x, target=target)


def dataset_job(model, loader, device, **engine):
    out = Path(tempfile.mkdtemp(prefix="gbp-bench-"))
    try:
        explain_dataset(model, loader, out, batch_size=loader.batch_size, device=device, **engine)
    finally:
        shutil.rmtree(out)


def start_ray() -> float:
    """Start a local Ray on this machine's cores; the seconds it took."""
    import os

    import ray

    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    return time.perf_counter() - start


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def resident_megabytes() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


class Watched(torch.utils.data.Dataset):
    """Random 1 x 28 x 28 items; notes the resident memory every ``every`` items read."""

    def __init__(self, count: int, every: int) -> None:
        self.count, self.every, self.samples = count, every, []

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int):
        if i % self.every == 0:
            self.samples.append((i, resident_megabytes()))
        return torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(i))


def memory_run(items: int) -> list[tuple[int, float]]:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    ).eval()
    data = Watched(items, every=max(1, items // 10))
    out = Path(tempfile.mkdtemp(prefix="gbp-bench-"))
    try:
        explain_dataset(model, data, out, batch_size=64)
    finally:
        shutil.rmtree(out)
    return data.samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--memory-items", type=int, default=2000)
    parser.add_argument("--ray", type=int, default=0, help="also on Ray with this many actors")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval().to(device)
    images = torch.randn(args.items, 3, 224, 224)
    loader = DataLoader(TensorDataset(images), batch_size=args.batch)
    dataset_loader = DataLoader(images, batch_size=args.batch)
    methods = {
        "plain loop": lambda: plain_loop(model, loader, device),
        "captum GuidedBackprop": lambda: captum_loop(model, loader, device),
        "explain_dataset": lambda: dataset_job(model, dataset_loader, device),
    }
    if args.ray:
        print(f"Ray started in {start_ray():.0f} s (not counted below)")
        methods[f"on Ray, {args.ray} actors"] = lambda: dataset_job(
            model, dataset_loader, device, engine="ray", ray_actors=args.ray
        )
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.rounds):
        for name, run in methods.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    print(
        f"ResNet-18, {args.items} items at 224 px, batch {args.batch}, {device} ({name}), "
        f"{torch.get_num_threads()} threads, median of {args.rounds} rounds"
    )
    plain = statistics.median(times["plain loop"])
    for method, taken in times.items():
        seconds = statistics.median(taken)
        print(f"  {method:22s} {args.items / seconds:7.1f} items/s   {seconds / plain:5.2f}x plain")
    samples = memory_run(args.memory_items)
    print(f"resident memory over {args.memory_items} items (small CNN, batch 64), MiB:")
    print("  " + "  ".join(f"{i}: {mb:.0f}" for i, mb in samples))


if __name__ == "__main__":
    main()
