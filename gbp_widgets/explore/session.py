"""What the Explorer shows, computed with as few passes as possible (no widget imports).

One forward pass per (item, model) is recorded with its graph kept; a change of
target or rule is one backward pass over it (cached, a few entries deep); a
change of site, channel, display or slice only re-renders from cached masks.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from gbp_widgets import drawing, render
from gbp_widgets.colour_keys import ColourKey, LabelKey, label_key
from gbp_widgets.engine import (
    Explanation,
    GuidedBackprop,
    Neuron,
    Recording,
    Region,
    Site,
    coverage_message,
    gradcam_map,
    layer_activations,
    prepare_inputs,
)
from gbp_widgets.explore import outputs
from gbp_widgets.explore.names import (
    ALL_CHANNELS,
    COMPARED_RULES,
    INPUT_KINDS,
    MASK_PANELS,
)
from gbp_widgets.explore.outputs import Detection, DetectionScore
from gbp_widgets.explore.views import (
    Cut,
    InputView,
    channel_tiles,
    kind_for,
    make_view,
    plane_picture,
    site_mask_key,
    site_plane,
    site_unit,
)
from gbp_widgets.models import Preprocessing, coco_classes, imagenet_classes

_SERIALS = itertools.count()
# Room for the view shown and the backward passes drawn ahead of it (the other rules for
# its target, the classes beside it for its rule): about 25 MB each for EfficientNet-Lite0.
_CACHED_RESULTS = 10
# What belongs to the item shown. Items left, or drawn ahead, keep theirs (a few, with
# their latest passes), so a step back or to a neighbour needs no new pass.
_ITEM_STATE = ("item", "recording", "output_kind", "_results", "_derived", "_regions")
_PARKED_ITEMS = 2
_PARKED_RESULTS = 2
# The pictures ahead (widgets/ahead.py) share this cache: room for them and the view shown.
_CACHED_PICTURES = 96
_GRID_TILES = 64
_GRID_TILE_PIXELS = 32
_TILE_GAP = 1

Target = int | Neuron | Region | DetectionScore | None


@dataclass(frozen=True)
class Result:
    """One backward pass, reduced to what the panels need (all on the CPU).

    ``explanation`` is the engine's, for a batch of one (for Guided Grad-CAM,
    the guided pass it is made from); ``attributions`` has one array per input,
    without the batch dimension; ``grads`` maps site index to the gradient that
    arrived at its output, without the batch dimension; ``cam`` is the ``(H, W)``
    Grad-CAM map for Guided Grad-CAM. ``serial`` is unique, a safe cache key.
    """

    explanation: Explanation
    attributions: tuple[np.ndarray, ...]
    grads: dict[int, torch.Tensor]
    cam: np.ndarray | None = None
    layer: str | None = None
    serial: int = field(default_factory=lambda: next(_SERIALS))

    @property
    def sites(self) -> tuple[Site, ...]:
        return self.explanation.sites

    @property
    def attribution(self) -> np.ndarray:
        """The first input's attribution."""
        return self.attributions[0]


@dataclass(frozen=True)
class View:
    """Everything that selects a picture."""

    target: Target
    rule: str = "guided"
    display: str = "gradient"
    percentile: float = 99.0
    site: int = 0
    channel: int = ALL_CHANNELS
    cut: Cut = Cut()
    input_index: int = 0
    # What the output panel or the boxes single out: the Region of a dense output, or
    # the index of a detection.
    chosen: object = None


class ExplorerSession:
    """The Explorer's model, inputs and caches, for any kind of input and output.

    ``inputs``: what :meth:`GuidedBackprop.explain` takes, a float tensor
    ``(N, ...)`` or a tuple of them, already preprocessed; one item is shown at
    a time (:meth:`set_item`). ``output``, ``forward_args`` and
    ``forward_kwargs`` are the engine's (per-item tensors in the extra
    arguments, with first dimension ``N``, are sliced with the item).
    ``pictures``: the photos behind image inputs, ``(H, W, 3)`` ``uint8`` per
    item, when known. ``preprocess``: turns photos into inputs, and undoes its
    normalisation to show image tensors; without it, image tensors are shown
    scaled from their own minimum to maximum. ``kinds``: the view per input,
    chosen from its shape when not given. The model is never modified.
    """

    def __init__(
        self,
        model: nn.Module,
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        *,
        output: object = None,
        forward_args: tuple = (),
        forward_kwargs: dict | None = None,
        classes: tuple[str, ...] | list[str] | None = None,
        feature_names: tuple[str, ...] | list[str] | None = None,
        kinds: tuple[str, ...] | None = None,
        preprocess: Preprocessing | None = None,
        pictures: list[np.ndarray] | None = None,
    ) -> None:
        self.engine = GuidedBackprop(model)
        self.output = output
        self.forward_args = tuple(forward_args)
        self.forward_kwargs = dict(forward_kwargs or {})
        self.preprocess = preprocess
        self.feature_names = tuple(feature_names) if feature_names is not None else None
        self.score_threshold = 0.5
        self._layer = "auto"
        self.pass_seconds = 0.0
        self._parked: OrderedDict[tuple[int, str], dict[str, object]] = OrderedDict()
        self._load(inputs, pictures, kinds, item=0)
        self.classes = self._class_names(classes)

    # -- inputs -------------------------------------------------------------------------

    def _load(self, inputs, pictures, kinds, item: int) -> None:
        """Check and record ``inputs``; nothing changes if that fails."""
        batch, as_tuple = _prepare(self.engine.model, inputs)
        views = _views_for(batch, kinds, self.feature_names)
        previous = self.__dict__.copy()
        self.batch, self.as_tuple, self.views = batch, as_tuple, views
        self._pictures = pictures
        self._parked = OrderedDict()
        try:
            self._check_item(item)
            self.__dict__.update(self._item_state(item))
        except Exception:
            self.__dict__.update(previous)
            raise

    def set_inputs(self, inputs, pictures: list[np.ndarray] | None = None) -> None:
        """Show new inputs of the same kinds (item 0); nothing changes if they fail."""
        self._load(inputs, pictures, tuple(v.kind for v in self.views), item=0)

    def set_image(self, image) -> None:
        """Show one picture (a PIL image, cropped and normalised by ``preprocess``) or a
        model-ready ``(3, H, W)`` or ``(1, 3, H, W)`` tensor, as the only item."""
        given = picture_inputs(image, self.preprocess or Preprocessing())
        self.set_inputs(given["inputs"], given["pictures"])

    def set_item(self, item: int) -> None:
        """Show item ``item`` of the batch: one forward pass, none for an item shown or
        drawn ahead (:meth:`another_item`) lately."""
        self._check_item(item)
        if item == self.item:
            return
        state = self._item_state(item)
        self._park()
        self.__dict__.update(state)

    @contextmanager
    def another_item(self, item: int) -> Iterator[None]:
        """The session shows ``item`` inside the block, and the item it showed before
        after it, as it was; what was computed for ``item`` is kept for :meth:`set_item`."""
        self._check_item(item)
        shown = self._state_of_item()
        try:
            self.__dict__.update(self._item_state(item))
            yield
        finally:
            if self.item == item:
                self._park()
            self.__dict__.update(shown)

    def _check_item(self, item: int) -> None:
        count = self.count
        if not 0 <= item < count:
            raise ValueError(f"item {item} is out of range: there are {count} (0 to {count - 1})")

    def _item_state(self, item: int) -> dict[str, object]:
        """What belongs to ``item`` (:data:`_ITEM_STATE`): kept from before, or recorded."""
        parked = self._parked.pop((item, self._layer), None)
        if parked is not None:
            return parked
        recording = self._record(item, self._layer)
        return {
            "item": item,
            "recording": recording,
            "output_kind": outputs.output_kind(recording.raw_output, recording.logits),
            "_results": OrderedDict(),
            "_derived": OrderedDict(),
            "_regions": {},
        }

    def _state_of_item(self) -> dict[str, object]:
        """What belongs to the item shown, as :meth:`_item_state` gives it."""
        return {name: getattr(self, name) for name in _ITEM_STATE}

    def _park(self) -> None:
        """Keep the shown item's state for a return, with its latest passes only."""
        while len(self._results) > _PARKED_RESULTS:
            self._results.popitem(last=False)
        self._parked[(self.item, self._layer)] = self._state_of_item()
        while len(self._parked) > _PARKED_ITEMS:
            self._parked.popitem(last=False)

    @property
    def count(self) -> int:
        """``N``, the number of items."""
        return self.batch[0].shape[0]

    @property
    def inputs(self) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The model-ready inputs of the item shown, with leading dimension 1."""
        tensors = tuple(t[self.item : self.item + 1] for t in self.batch)
        return tensors if self.as_tuple else tensors[0]

    def _arguments_of(self, item: int) -> tuple[tuple, dict]:
        """The extra forward arguments for ``item`` (per-item tensors sliced)."""

        def sliced(value: object) -> object:
            n = self.count
            if n > 1 and isinstance(value, torch.Tensor) and value.dim() and value.shape[0] == n:
                return value[item : item + 1]
            return value

        return (
            tuple(sliced(a) for a in self.forward_args),
            {k: sliced(v) for k, v in self.forward_kwargs.items()},
        )

    @property
    def kind(self) -> str:
        return self.views[0].kind

    def set_layer(self, layer: str) -> None:
        """Grad-CAM layer (a module path, or ``"auto"``); a new forward pass keeps its output."""
        if layer == self._layer:
            return
        recording = self._record(self.item, layer)
        # Refused before anything changes: a layer Grad-CAM cannot weight.
        layer_activations(recording, None if layer == "auto" else layer)
        self.recording, self._layer = recording, layer
        self._parked = OrderedDict()
        self._forget()

    def layer_choices(self) -> tuple[str, ...]:
        """Module paths worth offering for Grad-CAM: containers and convolutions."""
        return tuple(
            path
            for path, module in self.engine.model.named_modules()
            if path and (len(module._modules) or isinstance(module, nn.modules.conv._ConvNd))
        )

    def _forget(self) -> None:
        self._results.clear()
        self._derived.clear()
        self._regions.clear()

    def _record(self, item: int, layer: str) -> Recording:
        if layer != "auto" and layer not in dict(self.engine.model.named_modules()):
            raise ValueError(f"no module called {layer!r} in this model for Grad-CAM")
        tensors = tuple(t[item : item + 1] for t in self.batch)
        args, kwargs = self._arguments_of(item)
        spatial = self.kind == "image" and not self.as_tuple

        def record(keep: tuple[str, ...], last: bool) -> Recording:
            return self.engine.record(
                tensors if self.as_tuple else tensors[0],
                keep=keep,
                keep_last_spatial=last,
                keep_values=True,
                output=self.output,
                forward_args=args,
                forward_kwargs=kwargs,
            )

        recording = record(() if layer == "auto" else (layer,), spatial and layer == "auto")
        if spatial and layer == "auto" and recording.last_spatial_changed:
            # The model edits its last feature map in place: keep that map as returned.
            path = recording.last_spatial[0]
            recording = record((path,), False)
            recording.last_spatial = (path, recording.kept[path])
        return recording

    # -- what the model said ------------------------------------------------------------

    def _class_names(self, classes) -> tuple[str, ...]:
        kind = self.output_kind
        if kind == "detection":
            return tuple(classes) if classes is not None else coco_classes()
        count = 1 if kind == "score" else self.recording.logits.shape[1]
        if classes is None:
            if kind == "score":
                return ("score",)
            return (
                imagenet_classes() if count == 1000 else tuple(f"class {i}" for i in range(count))
            )
        if len(classes) != count:
            raise ValueError(f"{len(classes)} class names given for a model with {count} outputs")
        return tuple(classes)

    @property
    def probabilities(self) -> np.ndarray:
        """``(K,)``: softmax of the class scores; for a dense output the fraction of
        positions where each class is predicted; the score itself for one score."""
        logits = self.recording.logits
        if self.output_kind == "dense":
            return outputs.class_shares(logits)
        if self.output_kind == "score":
            return logits.detach()[:1].double().cpu().numpy()
        return torch.softmax(logits.detach()[0].double().cpu(), dim=0).numpy()

    def top_classes(self, k: int = 5) -> list[tuple[int, str, float]]:
        """The ``k`` most probable classes (detections, for a detector) as
        ``(index, name, probability)``."""
        if self.output_kind == "detection":
            return [(d.index, self.class_name(d.label), d.score) for d in self.detections()[:k]]
        probabilities = self.probabilities
        order = np.argsort(probabilities)[::-1][:k]
        return [(int(i), self.class_name(int(i)), float(probabilities[i])) for i in order]

    def class_name(self, index: int) -> str:
        return self.classes[index] if 0 <= index < len(self.classes) else f"class {index}"

    def detections(self) -> list[Detection]:
        """The shown item's detections scoring at least :attr:`score_threshold`."""
        return outputs.detections(self.recording.raw_output, self.score_threshold)

    def predicted_labels(self) -> np.ndarray:
        """The class predicted at each position of a dense output, ``(*positions)``."""
        return self._remember(("labels",), lambda: outputs.predicted_labels(self.recording.logits))

    def output_key(self) -> LabelKey:
        """How to read the label map of a dense output: the colour of each class in it."""
        return label_key(self.predicted_labels(), self.class_name)

    def first_class(self) -> int:
        """The class explained first on a new item: the most probable (0 when none is)."""
        top = self.top_classes(1)
        return top[0][0] if top else 0

    def class_target(self, cls: int) -> Target:
        """What explaining class ``cls`` of the output means: the class index itself, every
        position of it for a dense output, nothing to choose for a single score."""
        if self.output_kind == "dense":
            return self.class_region(cls)
        return None if self.output_kind == "score" else cls

    def class_region(self, cls: int) -> Region:
        """``Region(cls)`` over every position, one object per class (a stable cache key)."""
        return self._regions.setdefault(cls, Region(cls))

    def target_kinds(self) -> tuple[str, ...]:
        """The target kinds this model's output offers."""
        first = {"classes": ("class",), "score": ("class",), "dense": ("class", "region")}
        own = first.get(self.output_kind, ("detection",))
        return own + (("channel", "unit") if self.site_names else ())

    @property
    def site_names(self) -> list[str]:
        return [record.name for record in self.recording.sites]

    def site_rectifier(self, site: int) -> tuple[str, float | None]:
        """The rectifier at ``site``: its kind (``"relu"``, ``"relu6"``, ``"hardtanh"``) and
        its ceiling (``None`` for a plain ReLU)."""
        record = self.recording.sites[site]
        return record.kind, record.upper

    def site_shape(self, site: int) -> tuple[int, ...]:
        """The site's output shape for the item shown, ``(C, *spatial)``."""
        return tuple(self.recording.sites[site].shape[1:])

    def mask_key(self, site: int, channel: int) -> ColourKey:
        """How to read the mask panels at ``site`` showing ``channel``."""
        return site_mask_key(self.site_shape(site), channel)

    def channels(self, site: int) -> int:
        return self.site_shape(site)[0] if self.site_names else 0

    def coverage(self, rule: str) -> str:
        """What ``rule`` does not cover in this model ("" when it covers everything)."""
        return coverage_message(rule, len(self.recording.sites), tuple(self.recording.not_guided))

    # -- backward passes ----------------------------------------------------------------

    def result(self, target: Target, rule: str) -> Result:
        """The backward pass for ``target`` under ``rule``, from the cache if it is there;
        :attr:`pass_seconds` is how long the last one not in the cache took."""
        key = self._result_key(target, rule)
        if key in self._results:
            self._results.move_to_end(key)
            return self._results[key]
        started = time.perf_counter()
        result = self._backprop(target, rule)
        self.pass_seconds = time.perf_counter() - started
        self._results[key] = result
        while len(self._results) > _CACHED_RESULTS:
            self._results.popitem(last=False)
        return result

    def has_pass(self, target: Target, rule: str) -> bool:
        """Whether :meth:`result` for ``target`` under ``rule`` is in the cache: a
        picture of it costs no backward pass."""
        return self._result_key(target, rule) in self._results

    def _result_key(self, target: Target, rule: str) -> tuple:
        # Guided Grad-CAM depends on the layer too; one key for every rule keeps it simple.
        return (target, rule, self._layer)

    def explanation(self, target: Target, rule: str) -> Explanation:
        """The engine's :class:`Explanation` for the item shown (batch of one)."""
        return self.result(target, rule).explanation

    def _backprop(self, target: Target, rule: str) -> Result:
        if rule == "gradcam":
            layer = None if self._layer == "auto" else self._layer
            path, activations = layer_activations(self.recording, layer)
            cam = gradcam_map(self.recording, activations, target)[0][0, 0].detach().cpu().numpy()
            # The guided half is the guided rule's own pass: cached if it was shown already.
            guided = self.result(target, "guided")
            return Result(
                explanation=guided.explanation,
                attributions=tuple(a * cam for a in guided.attributions),
                grads=guided.grads,
                cam=cam,
                layer=path,
            )
        backprop = self.recording.backprop(target, rule)
        return Result(
            explanation=self.recording.explanation(backprop, rule),
            attributions=tuple(g[0].detach().cpu().numpy() for g in backprop.input_grads),
            grads={i: g[0].detach().cpu() for i, g in backprop.site_grads.items()},
        )

    # -- pictures -----------------------------------------------------------------------

    def photo(self, index: int = 0) -> np.ndarray:
        """What input ``index`` of the item looks like as a photo: ``(H, W, 3)`` (image),
        ``(D, H, W, 3)`` (volume) ``uint8``, for the input panel and overlays."""

        def make() -> np.ndarray:
            if index == 0 and self._pictures is not None:
                return self._pictures[self.item]
            values = self.batch[index][self.item].detach().float().cpu()
            if values.dim() < 3:
                return np.zeros((1, 1, 3), dtype=np.uint8)
            if self.preprocess is not None and values.shape[0] == 3:
                scaled = self.preprocess.unnormalize(values)
            else:
                low, high = values.min(), values.max()
                scaled = (values - low) / (high - low) if high > low else values * 0
            if scaled.shape[0] != 3:
                scaled = scaled.mean(0, keepdim=True).expand(3, *scaled.shape[1:])
            return (scaled.movedim(0, -1).numpy() * 255).round().astype(np.uint8)

        return self._remember(("photo", index), make)

    def input_values(self, index: int = 0) -> np.ndarray:
        """Input ``index`` of the item shown, without the batch dimension, as its view
        takes it."""
        view = self.views[index]
        values = self.batch[index][self.item].detach().float().cpu().numpy()
        return values.reshape(view.shape)

    def attribution(self, result: Result, index: int = 0) -> np.ndarray:
        return result.attributions[index].reshape(self.views[index].shape)

    def site_masks(self, result: Result, site: int) -> dict[str, np.ndarray]:
        """The three boolean masks at ``site`` for the item shown, ``(C, *spatial)``."""

        def unpack() -> dict[str, np.ndarray]:
            chosen = result.sites[site]
            forward = chosen.forward_mask[0].cpu().numpy()
            backward = chosen.backward_mask[0].cpu().numpy()
            return {"forward": forward, "backward": backward, "product": forward & backward}

        return self._remember(("masks", result.serial, site), unpack)

    def channel_ranking(self, result: Result, site: int) -> list[tuple[int, float]]:
        """Channels at ``site`` ordered by the fraction of units the product lets
        through, most first: ``(channel, fraction)``."""

        def rank() -> list[tuple[int, float]]:
            product = self.site_masks(result, site)["product"]
            passing = product.reshape(product.shape[0], -1).mean(axis=1)
            order = np.argsort(-passing, kind="stable")
            return [(int(c), float(passing[c])) for c in order]

        return self._remember(("ranking", result.serial, site), rank)

    def panels(self, view: View, size: int, grid: bool = True) -> dict[str, np.ndarray]:
        """Panel name -> RGBA picture, plus the channel ``grid`` unless ``grid`` is false
        (and ``output`` for a dense output).

        ``input`` and ``attribution`` are ``(size, size, 4)``; the site panels are
        at the site's own resolution (:func:`gbp_widgets.explore.views.site_plane`),
        to be shown scaled up with nearest neighbours. Pictures that did not change
        since the last call are the same objects, so a view can skip them.
        """
        result = self.result(view.target, view.rule)
        shown = self.views[view.input_index]
        cut = view.cut if shown.kind == "volume" else None
        panels = {
            "input": self._remember(
                ("input", view.input_index, cut, size, self._boxed(view)),
                lambda: self._input_panel(view, size),
            ),
            "attribution": self._map_picture(result, view, size, "attribution"),
        }
        if self.output_kind == "dense":
            panels["output"] = self._remember(
                ("output", view.cut, view.chosen), lambda: self.output_picture(view)
            )
        if not result.sites:
            blank = self._remember(("blank", size), lambda: _blank(size))
            return {
                **panels,
                **{name: blank for name in (*MASK_PANELS, "activation")},
                "grid": blank[:8, :8],
            }
        masks = self.site_masks(result, view.site)
        for name in MASK_PANELS:
            # Forward masks belong to the recording, not to a backward pass.
            owner = "recording" if name == "forward" else result.serial
            panels[name] = self._remember(
                (name, owner, view.site, view.channel, cut),
                lambda name=name: plane_picture(
                    site_plane(masks[name], view.channel, cut), heat=False
                ),
            )
        panels["activation"] = self._remember(
            ("activation", view.site, view.channel, cut),
            lambda: plane_picture(
                site_plane(self.site_output(view.site), view.channel, cut), heat=True
            ),
        )
        if grid:
            panels["grid"] = self._remember(
                ("grid", result.serial, view.site, cut),
                lambda: self._grid(result, view.site, cut),
            )
        return panels

    def _map_picture(
        self, result: Result, view: View, size: int, role: str = "compare"
    ) -> np.ndarray:
        """``result``'s attribution of the input shown, drawn as ``view`` says."""
        shown = self.views[view.input_index]
        cut = view.cut if shown.kind == "volume" else None
        key = (role, result.serial, view.input_index, view.display, view.percentile, cut, size)
        return self._remember(
            key,
            lambda: shown.attribution_picture(
                self.attribution(result, view.input_index),
                view.display,
                view.percentile,
                self.photo(view.input_index),
                size,
                view.cut,
            ),
        )

    def _boxed(self, view: View) -> int | None:
        """The detection outlined on the input panel, if any."""
        return view.chosen if self.output_kind == "detection" else None

    def _input_panel(self, view: View, size: int) -> np.ndarray:
        shown = self.views[view.input_index]
        picture = shown.input_picture(
            self.input_values(view.input_index), self.photo(view.input_index), size, view.cut
        )
        if self.output_kind != "detection":
            return picture
        found = self.detections()
        height, width = self.photo().shape[:2]
        boxes = [
            (
                d.box[0] * size / width,
                d.box[1] * size / height,
                d.box[2] * size / width,
                d.box[3] * size / height,
            )
            for d in found
        ]
        chosen = (
            [d.index for d in found].index(view.chosen)
            if view.chosen in [d.index for d in found]
            else None
        )
        return drawing.boxes_on(picture, boxes, chosen)

    def output_picture(self, view: View) -> np.ndarray:
        """The predicted label map of a dense output (the slice at the cut for volumes),
        the chosen region bright and the rest dimmed: ``(h, w, 4)``."""
        labels = self.predicted_labels()
        region = view.chosen
        chosen = (
            np.asarray(region.mask)
            if isinstance(region, Region) and region.mask is not None
            else None
        )
        if labels.ndim == 1:
            labels = labels[None]
            chosen = chosen[None] if chosen is not None else None
        elif labels.ndim == 3:
            labels = view.cut.take(labels)
            chosen = view.cut.take(chosen) if chosen is not None else None
        return drawing.label_map(labels, chosen)

    def region_at(self, row: int, column: int, size: int, cut: Cut) -> Region:
        """The 4-connected region of the class predicted under output-panel pixel
        ``(row, column)``, as ``Region(cls, mask)`` with a mask of the output's positions."""
        labels = self.predicted_labels()
        position = self._output_position(labels.shape, row, column, size, cut)
        mask = outputs.connected_region(labels, position)
        return Region(int(labels[position]), mask)

    def _output_position(self, shape, row, column, size, cut) -> tuple[int, ...]:
        if len(shape) == 1:
            return (min(column * shape[0] // size, shape[0] - 1),)
        if len(shape) == 2:
            return (
                min(row * shape[0] // size, shape[0] - 1),
                min(column * shape[1] // size, shape[1] - 1),
            )
        kept = [a for a in range(3) if a != cut.axis]
        position = [0, 0, 0]
        position[cut.axis] = cut.at(shape[cut.axis])
        position[kept[0]] = min(row * shape[kept[0]] // size, shape[kept[0]] - 1)
        position[kept[1]] = min(column * shape[kept[1]] // size, shape[kept[1]] - 1)
        return tuple(position)

    def detection_at(self, row: int, column: int, size: int) -> Detection | None:
        """The detection whose box holds input-panel pixel ``(row, column)`` (the smallest)."""
        height, width = self.photo().shape[:2]
        return outputs.detection_at(
            self.detections(), (column + 0.5) * width / size, (row + 0.5) * height / size
        )

    def compare_panels(self, view: View, size: int) -> dict[str, np.ndarray]:
        """The Gradient, DeconvNet and Guided maps of ``view.target`` side by side, drawn
        as ``view.display`` says, ``(size, size, 4)`` each; with the Grad-CAM heat map
        over the input as ``"cam"`` when ``view.rule`` is Guided Grad-CAM."""
        pictures = {}
        for rule in COMPARED_RULES:
            pictures[rule] = self._map_picture(self.result(view.target, rule), view, size)
        if view.rule == "gradcam":
            result = self.result(view.target, "gradcam")
            pictures["cam"] = self._remember(
                ("cam", result.serial, size),
                lambda: render.fit(render.overlay(self.photo(), result.cam[None]), size),
            )
        return pictures

    def site_output(self, site: int) -> np.ndarray:
        """What the ReLU at ``site`` returned for the item shown, ``(C, *spatial)``: its
        pre-activation rectified (and clipped at ``k`` for ReLU6 / Hardtanh)."""

        def rectify() -> np.ndarray:
            pre = self.recording.site_inputs[site][0].detach().float()
            upper = self.recording.sites[site].upper
            return pre.clamp(0.0, upper).cpu().numpy()

        return self._remember(("output", site), rectify)

    def _grid(self, result: Result, site: int, cut: Cut | None) -> np.ndarray:
        return render.channel_grid(self._grid_tiles(result, site, cut)[1], gap=_TILE_GAP)

    def _grid_tiles(self, result: Result, site: int, cut: Cut | None):
        """The channels shown in the grid, most passing first, and their product masks
        ``(n, h, w)`` thinned to at most ``_GRID_TILE_PIXELS`` a side."""
        ranked = [c for c, _ in self.channel_ranking(result, site)][:_GRID_TILES]
        tiles = channel_tiles(self.site_masks(result, site)["product"], ranked, cut)
        step = -(-max(tiles.shape[1:]) // _GRID_TILE_PIXELS)
        return ranked, tiles[:, ::step, ::step]

    def grid_channel(
        self, result: Result, site: int, row: int, column: int, cut: Cut | None = None
    ) -> int | None:
        """The channel whose tile covers pixel ``(row, column)`` of the grid, if any
        (the inverse of :func:`gbp_widgets.render.channel_grid`'s layout)."""
        if not result.sites:
            return None
        ranked, tiles = self._grid_tiles(result, site, cut)
        count, height, width = tiles.shape
        columns = math.ceil(math.sqrt(count))
        tile_row, inside_y = divmod(row, height + _TILE_GAP)
        tile_column, inside_x = divmod(column, width + _TILE_GAP)
        index = tile_row * columns + tile_column
        if inside_y >= height or inside_x >= width or tile_column >= columns or index >= count:
            return None
        return ranked[index]

    def unit_at(
        self, view: View, row: int, column: int, size: int
    ) -> tuple[int | None, tuple[int, ...]] | None:
        """The site unit under pixel ``(row, column)`` of a site panel: ``(channel,
        position)``, the channel ``None`` where all are shown at that position."""
        if not self.site_names:
            return None
        cut = view.cut if self.views[view.input_index].kind == "volume" else None
        return site_unit(self.site_shape(view.site), row, column, size, view.channel, cut)

    def _remember(self, key: tuple, make):
        """A small cache of derived arrays; results are evicted with their backward pass."""
        if key in self._derived:
            self._derived.move_to_end(key)
            return self._derived[key]
        value = make()
        self._derived[key] = value
        while len(self._derived) > _CACHED_PICTURES:
            self._derived.popitem(last=False)
        return value

    def readout(self, view: View, row: int, column: int, size: int) -> dict[str, object]:
        """The numbers under panel pixel ``(row, column)`` of ``size``-pixel panels."""
        result = self.result(view.target, view.rule)
        shown = self.views[view.input_index]
        spot = shown.locate(row, column, size, view.cut)
        values: dict[str, object] = {
            "where": spot.words,
            "input": _floats(self.input_values(view.input_index)[spot.index]),
            "attribution": _floats(self.attribution(result, view.input_index)[spot.index]),
        }
        if shown.kind == "image":
            y, x = spot.index[1:]
            values.update(y=y, x=x, rgb=tuple(int(v) for v in self.photo()[y, x]))
        if self.output_kind == "dense":
            labels = self.predicted_labels()
            at = self._output_position(labels.shape, row, column, size, view.cut)
            values["predicted"] = self.class_name(int(labels[at]))
        unit = self.unit_at(view, row, column, size) if result.sites else None
        if unit is None:
            return values
        channel, position = unit
        masks = self.site_masks(result, view.site)
        pre = self.recording.site_inputs[view.site][0].cpu().numpy()
        grad = result.grads.get(view.site)
        grad = grad.numpy() if grad is not None else np.zeros_like(pre)
        output = self.site_output(view.site)
        at = (slice(None) if channel is None else channel, *position)
        average = np.mean if channel is None else (lambda v: v)
        values.update(
            site_channel=channel,
            site_position=position,
            pre_activation=float(average(pre[at])),
            gradient=float(average(grad[at])),
            output=float(average(output[at])),
            **{name: float(average(mask[at])) for name, mask in masks.items()},
        )
        if len(position) == 2:
            values.update(site_y=position[0], site_x=position[1])
        return values


def picture_inputs(image: object, preprocess: Preprocessing) -> dict[str, object]:
    """``inputs`` ``(1, 3, H, W)`` and ``pictures`` (the photo shown) for one picture: a
    PIL image (cropped and normalised by ``preprocess``) or a model-ready ``(3, H, W)``
    or ``(1, 3, H, W)`` tensor (shown by undoing ``preprocess``'s normalisation)."""
    if isinstance(image, torch.Tensor):
        tensor = image.detach().to("cpu", torch.float32)
        tensor = tensor if tensor.dim() == 4 else tensor[None]
        photo = preprocess.unnormalize(tensor[0]).permute(1, 2, 0).numpy()
        return {"inputs": tensor, "pictures": [(photo * 255).round().astype(np.uint8)]}
    cropped = preprocess.crop(image)
    return {
        "inputs": preprocess.normalize(cropped)[None],
        "pictures": [np.asarray(cropped, dtype=np.uint8)],
    }


def _prepare(model: nn.Module, inputs) -> tuple[tuple[torch.Tensor, ...], bool]:
    """The batch as ``(N, ...)`` tensors on the model's device, and whether it was a tuple;
    refuses inputs the Explorer cannot show, saying which it shows."""
    given = inputs if isinstance(inputs, tuple) else (inputs,)
    for position, tensor in enumerate(given):
        if isinstance(tensor, torch.Tensor) and not tensor.is_floating_point():
            raise TypeError(
                f"{_which(inputs, position)} is a {tensor.dtype} tensor: the Explorer shows "
                f"float inputs, {_shown_kinds()}. Integer inputs such as token ids have no "
                "gradient: pass them with forward_args=, or give the model's embeddings as "
                "inputs"
            )
        if isinstance(tensor, torch.Tensor) and tensor.dim() > 5:
            raise ValueError(
                f"{_which(inputs, position)} has shape {tuple(tensor.shape)}: the Explorer "
                f"shows {_shown_kinds()}. Reshape the input to one of these, or use "
                "GuidedBackprop.explain directly"
            )
    prepared = prepare_inputs(model, inputs)
    return prepared.tensors, prepared.as_tuple


def _which(inputs, position: int) -> str:
    return f"inputs[{position}]" if isinstance(inputs, tuple) else "inputs"


def _shown_kinds() -> str:
    return ", ".join(f"{label}s {shape}" for label, shape in INPUT_KINDS.values())


def _views_for(batch, kinds, feature_names) -> tuple[InputView, ...]:
    views = []
    for position, tensor in enumerate(batch):
        shape = tuple(tensor.shape[1:])
        own = kind_for(shape)
        kind = kinds[position] if kinds and position < len(kinds) else own
        shape = _shape_for(kind, shape, own)
        names = feature_names if kind == "table" and position == 0 else None
        if names is not None and len(names) != shape[0]:
            raise ValueError(
                f"{len(names)} feature names given for {shape[0]} features: give one per feature"
            )
        views.append(make_view(kind, shape, names))
    return tuple(views)


# Views an input can be shown in besides its own: a table row as a curve, a signal as
# bars of its flattened values.
_ALSO = {"table": ("signal",), "signal": ("table",)}


def _shape_for(kind: str, shape: tuple[int, ...], own: str) -> tuple[int, ...]:
    if kind == own:
        return shape
    if kind not in _ALSO.get(own, ()):
        allowed = ", ".join(repr(k) for k in (own, *_ALSO.get(own, ())))
        raise ValueError(
            f"an input of item shape {shape} cannot be shown as {kind!r}: use {allowed}"
        )
    return (1, shape[0]) if kind == "signal" else (int(np.prod(shape)),)


def _floats(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.atleast_1d(values))


def _blank(size: int) -> np.ndarray:
    picture = np.full((size, size, 4), 128, dtype=np.uint8)
    picture[..., 3] = 255
    return picture
