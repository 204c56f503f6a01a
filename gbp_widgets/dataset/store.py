"""The results folder: Parquet shards written whole or not at all, and ``_manifest.json``,
the arguments that decide the rows. Files whose names start with ``_`` are bookkeeping,
which Parquet readers (pyarrow, pandas) skip when they read the folder."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections import Counter
from pathlib import Path

MANIFEST = "_manifest.json"
# Decide the rows; batch size, device and engine do not.
DECIDING = ("weights", "length", "rule", "target", "output")


def import_pyarrow():
    try:
        import pyarrow
        import pyarrow.dataset
        import pyarrow.parquet
    except ImportError as err:
        raise ImportError(
            'explain_dataset writes Parquet with pyarrow: pip install "gbp-widgets[dataset]"'
        ) from err
    return pyarrow


class ResultsFolder:
    """``out`` as a results folder for the job described by ``manifest``."""

    def __init__(self, out: str | Path) -> None:
        self.path = Path(out)

    def open(self, manifest: dict) -> None:
        """Create the folder, or check that what it holds came from the same arguments;
        remove half-written shards an interrupted run left."""
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"{str(self.path)!r} is a file: give a folder for the results")
        self.path.mkdir(parents=True, exist_ok=True)
        for leftover in self.path.glob("_writing-*"):
            leftover.unlink()
        stored = self.manifest()
        if stored is None:
            if any(self.path.glob("*.parquet")):
                raise ValueError(
                    f"{str(self.path)!r} holds Parquet files but no {MANIFEST}: give an empty "
                    "folder or one an earlier explain_dataset wrote"
                )
            _write_atomically(self.path / MANIFEST, json.dumps(manifest, indent=1).encode())
            return
        differ = [key for key in DECIDING if stored.get(key) != manifest.get(key)]
        if differ:
            told = ", ".join(
                f"{key}: {stored.get(key)!r} there, {manifest.get(key)!r} now" for key in differ
            )
            raise ValueError(
                f"{str(self.path)!r} holds results of another job ({told}); resume it with the "
                "same arguments, or give another folder"
            )

    def manifest(self) -> dict | None:
        path = self.path / MANIFEST
        return json.loads(path.read_text()) if path.exists() else None

    def done(self) -> set[int]:
        """Positions already written, read from the shards' ``index`` column only."""
        return set(self.index_counts())

    def index_counts(self) -> Counter:
        """How many rows each written position has (once, when all went right)."""
        counts: Counter = Counter()
        if not any(self.path.glob("*.parquet")):
            return counts
        parquet = import_pyarrow().parquet
        for shard in sorted(self.path.glob("*.parquet")):
            counts.update(parquet.read_table(shard, columns=["index"])["index"].to_pylist())
        return counts

    def write(self, table) -> Path:
        """Write ``table`` as one more shard: whole, or (interrupted) not at all. The name
        comes from the items it holds, so a batch written again (a Ray task retried after
        its worker died) replaces its own shard instead of adding a second copy."""
        positions = sorted(table["index"].to_pylist())
        digest = hashlib.sha256(json.dumps(positions).encode()).hexdigest()[:12]
        final = self.path / f"part-{positions[0]:09d}-{digest}.parquet"
        temporary = self.path / f"_writing-{uuid.uuid4().hex[:8]}-{final.name}"
        import_pyarrow().parquet.write_table(table, temporary)
        os.replace(temporary, final)
        return final


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f"_writing-{path.name}")
    temporary.write_bytes(data)
    os.replace(temporary, path)
