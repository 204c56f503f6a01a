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
# A copy of every row's small columns and its shard's name, so a Gallery opens from one file
# instead of thousands of shards.
SUMMARY = "_summary.parquet"
SUMMARY_COLUMNS = (
    "index",
    "label",
    "label_name",
    "predicted",
    "top5_probability",
    "skipped",
    "pass_fraction",
)
# Decide the rows; batch size, device and engine do not.
DECIDING = (
    "weights",
    "length",
    "rule",
    "activations",
    "target",
    "output",
    "attributions",
    "metrics",
    "metric_steps",
)
# What a manifest written before a deciding key existed meant by leaving it out.
_BEFORE_THE_KEY = {"activations": "relu", "metrics": [], "metric_steps": None}


def import_pyarrow():
    try:
        import pyarrow
        import pyarrow.dataset
        import pyarrow.parquet
    except ImportError as err:
        raise ImportError(
            "explain_dataset writes Parquet with pyarrow: in a clone of gbp-widgets, "
            'pip install -e ".[dataset]"'
        ) from err
    return pyarrow


class ResultsFolder:
    """``out`` as a results folder for the job described by ``manifest``."""

    def __init__(self, out: str | Path) -> None:
        self.path = Path(out)
        # The summary last read or written, with what it was read for: (the shards' key,
        # the file's modification time in ns, the table).
        self._kept: tuple[str, int, object] | None = None

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
            if self.shards():
                raise ValueError(
                    f"{str(self.path)!r} holds Parquet files but no {MANIFEST}: give an empty "
                    "folder or one an earlier explain_dataset wrote"
                )
            _write_atomically(self.path / MANIFEST, json.dumps(manifest, indent=1).encode())
            return
        stored = _BEFORE_THE_KEY | stored
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
        parquet = import_pyarrow().parquet
        for shard in self.shards():
            counts.update(parquet.read_table(shard, columns=["index"])["index"].to_pylist())
        return counts

    def shards(self) -> list[Path]:
        """The complete shards, by name (bookkeeping files start with ``_``)."""
        names = sorted(
            entry.name
            for entry in os.scandir(self.path)
            if entry.name.endswith(".parquet") and not entry.name.startswith("_")
        )
        return [self.path / name for name in names]

    def summary(self, build: bool = True):
        """The :data:`SUMMARY_COLUMNS` of every row and its ``shard`` (file name), by
        ``index``, as a pyarrow table: read from ``_summary.parquet`` when it describes the
        shards there now, else (``build``) gathered from the shards and saved, else ``None``.
        Read once while neither the shards nor the file change (a Gallery looks up one row
        at a time)."""
        shards = self.shards()
        key = hashlib.sha256("\n".join(p.name for p in shards).encode()).hexdigest()
        pa = import_pyarrow()
        path = self.path / SUMMARY
        if path.exists():
            stamp = path.stat().st_mtime_ns
            if self._kept is not None and self._kept[:2] == (key, stamp):
                return self._kept[2]
            table = pa.parquet.read_table(path, read_dictionary=["shard", "label_name"])
            if (table.schema.metadata or {}).get(b"shards") == key.encode():
                self._kept = (key, stamp, table)
                return table
        if not build or not shards:
            return None
        gathered = pa.dataset.dataset([str(p) for p in shards], format="parquet").to_table(
            columns=[*SUMMARY_COLUMNS, "__filename"]
        )
        names = [Path(name).name for name in gathered["__filename"].to_pylist()]
        table = gathered.drop_columns(["__filename"]).append_column("shard", pa.array(names))
        table = table.sort_by("index").replace_schema_metadata({"shards": key})
        temporary = self.path / f"_writing-{uuid.uuid4().hex[:8]}-{SUMMARY}"
        pa.parquet.write_table(table, temporary)
        os.replace(temporary, path)
        self._kept = (key, path.stat().st_mtime_ns, table)
        return table

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
