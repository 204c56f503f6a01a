"""What ``explain_dataset`` wrote, read back lazily."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gbp_widgets.dataset.store import ResultsFolder, import_pyarrow


class DatasetResults:
    """The results folder ``out``: its rows as a pyarrow table or a pandas frame, one item
    by its position in the data, and what the job was (:attr:`manifest`, :attr:`sites`).

    Nothing is read until asked for; ``pandas.read_parquet(out)`` reads the same rows.
    """

    def __init__(self, out: str | Path) -> None:
        self.folder = ResultsFolder(out)
        if self.folder.manifest() is None:
            raise ValueError(f"{str(out)!r} holds no explain_dataset results")

    @property
    def path(self) -> Path:
        return self.folder.path

    @property
    def manifest(self) -> dict:
        """The arguments that decided the rows (weights fingerprint, length, rule, ...)."""
        return self.folder.manifest()

    def _dataset(self):
        return import_pyarrow().dataset.dataset(self.path, format="parquet")

    @property
    def sites(self) -> list[str]:
        """The sites of ``pass_fraction``, in order."""
        for fragment in self._dataset().get_fragments():
            names = json.loads(fragment.physical_schema.metadata.get(b"sites", b"[]"))
            if names:
                return names
        return []

    def __len__(self) -> int:
        return self._dataset().count_rows()

    def table(self, columns: list[str] | None = None):
        """The rows (of ``columns`` only, if given) as a pyarrow table, by ``index``."""
        table = self._dataset().to_table(columns=columns)
        return table.sort_by("index") if "index" in table.column_names else table

    def to_pandas(self, columns: list[str] | None = None):
        """The rows as a pandas frame, by ``index``."""
        return self.table(columns).to_pandas()

    def rows(self, indices, columns: list[str] | None = None):
        """The rows of the items at positions ``indices`` (any order), as a pyarrow table;
        only the shards that can hold them are read."""
        wanted = import_pyarrow().dataset.field("index").isin([int(i) for i in indices])
        return self._dataset().to_table(columns=columns, filter=wanted)

    def item(self, index: int) -> dict:
        """The row of the item at position ``index`` in the data; ``saliency`` as a
        ``(h, w)`` float16 array."""
        found = self.rows([index])
        if found.num_rows == 0:
            raise KeyError(f"no item {index} in {str(self.path)!r} (yet)")
        row = found.slice(0, 1).to_pylist()[0]
        if row["saliency"] is not None:
            row["saliency"] = np.asarray(row["saliency"], dtype=np.float16)
        return row

    def summary(self, classes: list[str] | tuple[str, ...] | None = None) -> str:
        """Items, skipped, accuracy (where the labels are names among ``classes``, the
        model's class names) and where the results are, in a few lines."""
        rows = self.table(["label_name", "predicted", "skipped"]).to_pylist()
        skipped = sum(row["skipped"] is not None for row in rows)
        lines = [f"{len(rows)} items, {skipped} skipped (reasons in the 'skipped' column)"]
        named = [row for row in rows if row["label_name"] is not None and row["skipped"] is None]
        if named and classes is not None and all(row["label_name"] in classes for row in named):
            right = sum(classes[row["predicted"]] == row["label_name"] for row in named)
            lines.append(f"accuracy {100 * right / len(named):.1f}% on {len(named)} labelled items")
        elif named:
            lines.append(
                "labelled by folder names that are not the model's class names: no accuracy"
            )
        lines.append(f"results in {self.path} (pandas.read_parquet reads the folder)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"DatasetResults({str(self.path)!r}: {len(self)} rows)"
