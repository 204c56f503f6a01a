"""How long a Gallery takes to open over a large results folder, and to turn a page.

Writes a results folder of ``--rows`` rows (100,000 by default) in shards of ``--shard``
rows (32, explain_dataset's default batch), with the columns a real job writes: a 112 px
float16 saliency map and a PNG picture per row, and pass fractions at ``--sites`` sites
(ResNet-18 has 17). Then times, median of ``--repeats``: ``Gallery(results)`` from nothing
to its first page and curves drawn; a filter change; a page turn. Target: open < 1 s.

The job itself gathers the rows' small columns into ``_summary.parquet`` when it ends; that
step is timed too. ``--folder DIR`` keeps the written folder there and reuses it next time.

    python benchmarks/gallery_open.py [--rows 100000] [--shard 32] [--sites 17] [--folder DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from options import repeats
from PIL import Image

from gbp_widgets import Gallery
from gbp_widgets.dataset.rows import column_types
from gbp_widgets.dataset.store import MANIFEST, SUMMARY, ResultsFolder


def write_folder(out: Path, rows: int, shard: int, sites: int) -> None:
    generator = np.random.default_rng(0)
    names = [f"layer{i}.relu#1" for i in range(sites)]
    manifest = {
        "weights": "synthetic",
        "length": rows,
        "rule": "guided",
        "target": None,
        "output": None,
        "classes": [f"class {k}" for k in range(1000)],
        "label_names": None,
    }
    (out / MANIFEST).write_text(json.dumps(manifest))
    folder, types = ResultsFolder(out), column_types()
    saliency = generator.random((shard, 112, 112)).astype(np.float16)
    pictures = []
    for _ in range(8):
        buffer = io.BytesIO()
        noise = generator.integers(0, 255, (112, 112, 3), dtype=np.uint8)
        Image.fromarray(noise).save(buffer, "PNG")
        pictures.append(buffer.getvalue())
    for start in range(0, rows, shard):
        n = min(shard, rows - start)
        label = generator.integers(0, 1000, n)
        top = generator.integers(0, 1000, (n, 5))
        probability = np.sort(generator.random((n, 5)), axis=1)[:, ::-1] / 2
        columns = {
            "index": list(range(start, start + n)),
            "path": [None] * n,
            "label": label.tolist(),
            "label_name": [None] * n,
            "predicted": top[:, 0].tolist(),
            "top5": top.tolist(),
            "top5_probability": probability.tolist(),
            "target": top[:, 0].tolist(),
            "rule": ["guided"] * n,
            "saliency": [s.tolist() for s in saliency[:n]],
            "pass_fraction": generator.random((n, sites)).astype(np.float32).tolist(),
            "skipped": [None] * n,
            "picture": [pictures[i % 8] for i in range(n)],
        }
        table = pa.table({k: pa.array(v, type=types[k]()) for k, v in columns.items()})
        folder.write(table.replace_schema_metadata({"sites": json.dumps(names)}))


def timed(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--shard", type=int, default=32)
    parser.add_argument("--sites", type=int, default=17)
    parser.add_argument("--repeats", type=repeats, default=5)
    parser.add_argument("--folder", type=Path, help="keep the results here (reused if there)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        out = args.folder or Path(scratch) / "results"
        if not (out / MANIFEST).exists():
            out.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            write_folder(out, args.rows, args.shard, args.sites)
            print(f"wrote the rows in {time.perf_counter() - start:.0f} s")
        folder = ResultsFolder(out)
        size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
        print(f"{len(folder.done()):,} rows in {len(folder.shards()):,} shards, {size:,.0f} MiB")
        (out / SUMMARY).unlink(missing_ok=True)
        start = time.perf_counter()
        folder.summary()
        print(f"summary gathered as the job ends: {time.perf_counter() - start:.1f} s")
        gallery = Gallery(out)
        opening = timed(lambda: Gallery(out), args.repeats)
        filtering = timed(
            lambda: setattr(gallery, "true_class", (gallery.true_class + 2) % 5), args.repeats
        )
        turning = timed(lambda: gallery._next.click(), args.repeats)
    print(f"{platform.processor() or platform.machine()}, {args.repeats} repeats, medians:")
    print(f"  open (first page and curves drawn): {opening * 1000:.0f} ms  (target < 1000 ms)")
    print(f"  change a filter:                    {filtering * 1000:.0f} ms")
    print(f"  next page:                          {turning * 1000:.0f} ms")


if __name__ == "__main__":
    main()
