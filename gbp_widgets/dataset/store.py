"""The results folder: Parquet shards written whole or not at all, and ``_manifest.json``,
the arguments that decide the rows. Files whose names start with ``_`` are bookkeeping,
which Parquet readers (pyarrow, pandas) skip when they read the folder."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

MANIFEST = "_manifest.json"
# Decide the rows; batch size, device and engine do not.
DECIDING = ("weights", "length", "rule", "target", "output")


def _pyarrow():
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
        if not any(self.path.glob("*.parquet")):
            return set()
        parquet = _pyarrow().parquet
        done: set[int] = set()
        for shard in sorted(self.path.glob("*.parquet")):
            done.update(parquet.read_table(shard, columns=["index"])["index"].to_pylist())
        return done

    def write(self, table) -> Path:
        """Write ``table`` as one more shard: whole, or (interrupted) not at all."""
        first = min(table["index"].to_pylist())
        final = self.path / f"part-{first:09d}-{uuid.uuid4().hex[:8]}.parquet"
        temporary = self.path / f"_writing-{final.name}"
        _pyarrow().parquet.write_table(table, temporary)
        os.replace(temporary, final)
        return final


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f"_writing-{path.name}")
    temporary.write_bytes(data)
    os.replace(temporary, path)
