"""One item of a results folder made ready for the Explorer again: the model the job used,
its preprocessing and the item's model-ready input, checked against what the job recorded."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from gbp_widgets.dataset.job import weights_fingerprint
from gbp_widgets.dataset.results import DatasetResults
from gbp_widgets.dataset.sources import item_at
from gbp_widgets.images import load_image
from gbp_widgets.models import Preprocessing, load_model


class ItemOpener:
    """Explorer arguments for items of ``results``. ``model``: the module the job ran, a
    model name for :func:`gbp_widgets.load_model`, or ``None`` for the default model (as
    the command line's). ``data``: the ``Dataset`` the rows came from (items without a
    file); ``preprocess``: a picture to a ``(C, H, W)`` tensor (items from a folder)."""

    def __init__(
        self,
        results: DatasetResults,
        model: nn.Module | str | None = None,
        data: object = None,
        preprocess: Callable | None = None,
        classes: list[str] | None = None,
    ) -> None:
        self.results = results
        self._given = (model, preprocess, classes)
        self.data = data
        self._loaded: tuple | None = None
        self._weights_checked = False

    def arguments(self, row: dict) -> dict:
        """Keyword arguments for ``Explorer(**...)`` showing the item of ``row`` (as
        :meth:`DatasetResults.item` gives it) as the job explained it: same rule, same
        target class. Raises ``ValueError`` saying what is missing when it cannot be shown."""
        index = row["index"]
        if row["skipped"] is not None:
            raise ValueError(f"item {index} was skipped ({row['skipped']}): there is no map")
        model, preprocess, classes = self._parts()
        self._check_weights(model)
        shown = {
            "model": model,
            "classes": classes,
            "rule": self.results.manifest["rule"],
            "target": row["target"],
        }
        if row["path"] is not None:
            if preprocess is None:
                raise ValueError(
                    f"item {index} is the file {row['path']}: pass preprocess= (the picture to "
                    "tensor function the job used) to open it"
                )
            if isinstance(preprocess, Preprocessing):
                return shown | {"image": row["path"], "preprocess": preprocess}
            return shown | {"inputs": preprocess(load_image(row["path"]))[None]}
        if self.data is None:
            raise ValueError(
                f"item {index} came from a Dataset, not a file: pass data= (the same Dataset "
                "or DataLoader) to open it"
            )
        return shown | {"inputs": item_at(self.data, index).input[None]}

    def _parts(self) -> tuple:
        """The model, its preprocessing and class names, a named model loaded once."""
        if self._loaded is None:
            model, preprocess, classes = self._given
            if model is None or isinstance(model, str):
                loaded = load_model(model) if model else load_model()
                model = loaded.model
                preprocess = preprocess or loaded.preprocess
                classes = classes or list(loaded.classes)
            classes = classes or self.results.manifest.get("classes")
            self._loaded = (model, preprocess, classes)
        return self._loaded

    def _check_weights(self, model: nn.Module) -> None:
        if self._weights_checked:
            return
        if weights_fingerprint(model) != self.results.manifest["weights"]:
            raise ValueError(
                "these results were made by a model with other weights than the one given: "
                "pass the model the job ran (Gallery(results, model=...)) to open items"
            )
        self._weights_checked = True
