"""Which map to trust? The localisation table of gbp_widgets.trust on every held-out scene.

Builds the digit scenes (3,000 to train on, 297 held out), loads the max-pooling scene CNN the
package ships (``--train``: trains it anew, as ``python -m gbp_widgets.trust.train`` does), and
scores gradient, DeconvNet, guided, Grad-CAM, Guided Grad-CAM, the centre baseline and a
random map on all 297 held-out scenes: the pointing game at 2 px as TorchRay scores it (with
a resampled interval) and on each map's own peak (with Wilson's), and deletion and insertion
AUC with the 95 % interval of the mean, beside TorchRay's VOC07 VGG16 pointing figures.
Prints the table, the time each part took and the machine; writes the two figures to
``--out`` when given. Notebook 11 shows the same table on fewer scenes.

    python benchmarks/trust_table.py [--steps 100] [--items 297] [--train] [--out FOLDER]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from gbp_widgets import fair_threads
from gbp_widgets.trust import (
    examples_figure,
    scene_sets,
    shipped_scene_model,
    table_figure,
    train_scene_model,
    trust_table,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--items", type=int, default=297)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--train", action="store_true", help="train the scene CNN anew")
    args = parser.parse_args()
    torch.set_num_threads(fair_threads())
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"{platform.processor() or platform.machine()}"
    )
    started = time.perf_counter()
    training, held_out = scene_sets()
    trained = (train_scene_model if args.train else shipped_scene_model)(training, held_out)
    print(
        f"scene CNN {'trained' if args.train else 'loaded'} in "
        f"{time.perf_counter() - started:.0f} s: names "
        f"{trained.train_accuracy:.1%} of its {len(training)} training scenes and "
        f"{trained.test_accuracy:.1%} of the {len(held_out)} held-out ones"
    )
    started = time.perf_counter()
    table = trust_table(trained.model, held_out.take(args.items), steps=args.steps)
    print(f"table scored in {time.perf_counter() - started:.0f} s\n")
    print(table.text())
    for column in ("torchray", "pointing", "deletion", "insertion"):
        print(f"best first by {column}: {', '.join(table.order(column))}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        table_figure(table).savefig(args.out / "trust_table.png", dpi=110)
        examples_figure(table, 8).savefig(args.out / "trust_examples.png", dpi=110)
        print(f"figures in {args.out}")


if __name__ == "__main__":
    main()
