"""A batch of items turned into rows: the engine's answer for each item, as a pyarrow table.
Both engines (this process, Ray actors) make their rows here, so the rows are the same."""

from __future__ import annotations

import copy
import io
import json

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gbp_widgets.dataset.sources import THUMBNAIL, Item
from gbp_widgets.dataset.store import import_pyarrow
from gbp_widgets.engine import GuidedBackprop, rule_named
from gbp_widgets.metrics import CURVES

TOP = 5
# The mask whose open share each rule's row records, per site.
# The columns filled from the engine's answer (empty for a skipped item).
COMPUTED = (
    "predicted",
    "top5",
    "top5_probability",
    "target",
    "saliency",
    "pass_fraction",
    "attribution",
    "attribution_shape",
    *(f"{name}_auc" for name in CURVES),
)
# How a reader names each mask that says where a rule lets the gradient through
# (BackwardRule.passing_mask): in curves, captions and summaries.
MASK_NAMES = {
    "product": "product mask",
    "forward_mask": "forward mask",
    "backward_mask": "backward mask",
}


def on_device(model: nn.Module, device: str | torch.device | None) -> nn.Module:
    """``model`` itself, or a copy on ``device``: the caller's model is never moved."""
    if device is None:
        return model
    current = next(model.parameters(), torch.empty(0)).device
    return model if current == torch.device(device) else copy.deepcopy(model).to(device)


class RowMaker:
    """Turns a batch of items into a table of rows, one per item, in the batch's order."""

    def __init__(
        self,
        model: nn.Module,
        rule: str,
        target,
        output,
        attributions: bool = False,
        activations: str = "relu",
        metrics: tuple[str, ...] = (),
        metric_steps: int = 100,
    ) -> None:
        self.engine = GuidedBackprop(model, activations=activations)
        self.rule, self.target, self.output = rule, target, output
        self.attributions = attributions
        self.metrics, self.metric_steps = tuple(metrics), metric_steps
        self.sites: list[str] | None = None

    def rows(self, batch: list[Item]) -> object:
        readable = [item for item in batch if item.input is not None]
        computed = self._explain(readable) if readable else {}
        pa, types = import_pyarrow(), column_types(self.attributions, self.metrics)
        columns: dict[str, list] = {name: [] for name in types}
        for item in batch:
            row = computed.get(item.index, {})
            columns["index"].append(item.index)
            columns["path"].append(item.path)
            columns["label"].append(item.label)
            columns["label_name"].append(item.label_name)
            columns["rule"].append(self.rule)
            columns["skipped"].append(item.skipped)
            columns["picture"].append(None if item.input is None else picture_png(item))
            for name in COMPUTED:
                if name in columns:
                    columns[name].append(row.get(name))
        table = pa.table(
            {name: pa.array(values, type=types[name]()) for name, values in columns.items()}
        )
        return table.replace_schema_metadata({"sites": json.dumps(self.sites or [])})

    def _explain(self, readable: list[Item]) -> dict[int, dict]:
        inputs = torch.stack([item.input for item in readable])
        if self.target == "label":
            target = [item.label for item in readable]
            if None in target:
                raise ValueError("target='label' needs every item to have a label")
        else:
            target = self.target
        explanation = self.engine.explain(inputs, target, rule=self.rule, output=self.output)
        if self.sites is None:
            self.sites = [site.name for site in explanation.sites]
        saliency = _thumbnails(explanation.attribution)
        passing = _pass_fractions(
            explanation.sites, rule_named(self.rule).passing_mask, len(readable)
        )
        logits = explanation.logits
        probabilities = (
            torch.softmax(logits.detach().float(), dim=1)
            if isinstance(logits, torch.Tensor) and logits.dim() == 2
            else None
        )
        targets = torch.as_tensor(explanation.target).reshape(-1).tolist()
        areas = self._areas(inputs, explanation.attribution, targets)
        rows = {}
        for i, item in enumerate(readable):
            row = {"target": int(targets[i]), "saliency": saliency[i].tolist()}
            row |= {column: aucs[i] for column, aucs in areas.items()}
            row["pass_fraction"] = passing[i].tolist()
            if self.attributions:
                row |= _full(explanation.attribution, i)
            if probabilities is not None:
                top = probabilities[i].topk(min(TOP, probabilities.shape[1]))
                row["predicted"] = int(probabilities[i].argmax())
                row["top5"] = top.indices.tolist()
                row["top5_probability"] = top.values.tolist()
            rows[item.index] = row
        return rows

    def _areas(self, inputs, attribution, targets: list[int]) -> dict[str, list[float]]:
        """Each asked-for curve's area per item: ``{"deletion_auc": [...], ...}``."""
        if self.metrics and isinstance(attribution, tuple):
            raise ValueError("metrics= scores models of one input; this one takes several")
        return {
            f"{name}_auc": [
                curve.auc
                for curve in CURVES[name](
                    self.engine.model,
                    inputs,
                    attribution,
                    targets,
                    steps=self.metric_steps,
                    batch_size=len(inputs),
                    output=self.output,
                )
            ]
            for name in self.metrics
        }


def _thumbnails(attribution: object) -> np.ndarray:
    """``|map|``, max over channels (and depth), at most :data:`THUMBNAIL` a side:
    ``(N, h, w)`` float16; a signal or table becomes one row."""
    if isinstance(attribution, tuple):
        attribution = attribution[0]
    values = attribution.detach().float().abs().cpu()
    values = values.amax(dim=1) if values.dim() >= 3 else values
    while values.dim() > 3:
        values = values.amax(dim=1)
    if values.dim() == 2:
        values = values[:, None]
    height, width = values.shape[1:]
    scale = THUMBNAIL / max(height, width)
    if scale < 1:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        values = F.interpolate(values[:, None], size=size, mode="area")[:, 0]
    return values.numpy().astype(np.float16)


def picture_png(item: Item) -> bytes | None:
    """The item as a PNG at most :data:`THUMBNAIL` a side: the file as seen for a
    picture, else an image-like input ``(1 or 3, H, W)`` stretched to its own range
    (its normalisation is not known); ``None`` for signals, volumes and tables."""
    if item.picture is not None:
        picture = item.picture
    elif item.input.dim() == 3 and item.input.shape[0] in (1, 3):
        values = item.input.detach().float().cpu()
        low, high = values.min(), values.max()
        scaled = ((values - low) / (high - low).clamp_min(1e-12) * 255).round().byte()
        picture = Image.fromarray(scaled.permute(1, 2, 0).squeeze(2).numpy())
    else:
        return None
    picture.thumbnail((THUMBNAIL, THUMBNAIL))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def _pass_fractions(sites, mask: str, count: int) -> np.ndarray:
    """``(N, sites)``: the share of each item's units open in ``mask`` at every site."""
    shares = [site.open_shares(mask) for site in sites]
    if not shares:
        return np.zeros((count, 0), dtype=np.float32)
    return torch.stack(shares, dim=1).numpy().astype(np.float32)


def _full(attribution: object, i: int) -> dict:
    """Item ``i``'s whole attribution (the first input's, for several), flattened, and its
    shape: ``numpy.reshape(attribution, attribution_shape)`` gives it back."""
    if isinstance(attribution, tuple):
        attribution = attribution[0]
    values = attribution[i].detach().float().cpu()
    return {"attribution": values.reshape(-1).numpy(), "attribution_shape": list(values.shape)}


def column_types(attributions: bool = False, metrics: tuple[str, ...] = ()) -> dict:
    """Each column's pyarrow type, as a function that makes it; the full attribution's two
    columns and each metric's area only when asked for."""
    pa = import_pyarrow()
    areas = {f"{name}_auc": pa.float64 for name in metrics}
    full = {
        "attribution": lambda: pa.list_(pa.float32()),
        "attribution_shape": lambda: pa.list_(pa.int64()),
    }
    return (
        {
            "index": pa.int64,
            "path": pa.string,
            "label": pa.int64,
            "label_name": pa.string,
            "predicted": pa.int64,
            "top5": lambda: pa.list_(pa.int64()),
            "top5_probability": lambda: pa.list_(pa.float32()),
            "target": pa.int64,
            "rule": pa.string,
            "saliency": lambda: pa.list_(pa.list_(pa.float16())),
            "pass_fraction": lambda: pa.list_(pa.float32()),
            "skipped": pa.string,
            "picture": pa.binary,
        }
        | (full if attributions else {})
        | areas
    )
