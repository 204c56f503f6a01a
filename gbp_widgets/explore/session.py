"""What the Explorer shows, computed with as few passes as possible (no widget imports).

One forward pass per (item, model) is recorded with its graph kept; a change of
target or rule is one backward pass over it (cached, a few entries deep); a
change of site, channel, display or slice only re-renders from cached masks.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from gbp_widgets.colour_keys import ColourKey, LabelKey, label_key
from gbp_widgets.engine import (
    Explanation,
    Gate,
    GuidedBackprop,
    Region,
    coverage_message,
    gradcam_map,
    layer_activations,
)
from gbp_widgets.explore import outputs
from gbp_widgets.explore.batch import picture_inputs, prepare, views_for
from gbp_widgets.explore.names import SCORE_THRESHOLD
from gbp_widgets.explore.outputs import Detection
from gbp_widgets.explore.passes import Result, Target
from gbp_widgets.explore.pictures import SessionPictures
from gbp_widgets.explore.readings import SessionReadings
from gbp_widgets.explore.recorder import SessionRecording
from gbp_widgets.explore.views import site_mask_keys
from gbp_widgets.models import Preprocessing

# Room for the view shown and the backward passes drawn ahead of it (the other rules for
# its target, the classes beside it for its rule): about 25 MB each for EfficientNet-Lite0.
_CACHED_RESULTS = 10
# What belongs to the item shown. Items left, or drawn ahead, keep theirs (a few, with
# their latest passes), so a step back or to a neighbour needs no new pass.
_ITEM_STATE = ("item", "recording", "output_kind", "_results", "_derived", "_regions")
_PARKED_ITEMS = 2
_PARKED_RESULTS = 2


class ExplorerSession(SessionRecording, SessionPictures, SessionReadings):
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
    chosen from its shape when not given. ``activations``: the engine's (``"gated"``
    makes GELU, SiLU, Mish and Hardswish sites too: our extension). The model is never
    modified.
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
        activations: str = "relu",
    ) -> None:
        self.engine = GuidedBackprop(model, activations=activations)
        self.output = output
        self.forward_args = tuple(forward_args)
        self.forward_kwargs = dict(forward_kwargs or {})
        self.preprocess = preprocess
        self.feature_names = tuple(feature_names) if feature_names is not None else None
        self._layer = "auto"
        self.pass_seconds = 0.0
        self._parked: OrderedDict[tuple[int, str], dict[str, object]] = OrderedDict()
        self._load(inputs, pictures, kinds, item=0)
        self.classes = self._class_names(classes)

    # -- inputs -------------------------------------------------------------------------

    def _load(self, inputs, pictures, kinds, item: int) -> None:
        """Check and record ``inputs``; nothing changes if that fails."""
        batch, as_tuple = prepare(self.engine.model, inputs)
        views = views_for(batch, kinds, self.feature_names)
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

    @property
    def one_photo(self) -> bool:
        """Whether each item is one picture: then photos, uploads and Grad-CAM (which
        weights an image model's feature map) apply."""
        return self.kind == "image" and not self.as_tuple

    def _forget(self) -> None:
        self._results.clear()
        self._derived.clear()
        self._regions.clear()

    # -- what the model said ------------------------------------------------------------

    def _class_names(self, classes) -> tuple[str, ...]:
        kind = self.output_kind
        if isinstance(kind, outputs.Detections):
            return tuple(classes) if classes is not None else kind.default_names(0)
        count = kind.class_count(self.recording.logits)
        if classes is None:
            return kind.default_names(count)
        if len(classes) != count:
            raise ValueError(f"{len(classes)} class names given for a model with {count} outputs")
        return tuple(classes)

    @property
    def probabilities(self) -> np.ndarray:
        """``(K,)``: softmax of the class scores; for a dense output the fraction of
        positions where each class is predicted; the score itself for one score."""
        return self.output_kind.probabilities(self.recording.logits)

    def top_classes(
        self, k: int = 5, threshold: float = SCORE_THRESHOLD
    ) -> list[tuple[int, str, float]]:
        """The ``k`` most probable classes (detections, for a detector) as
        ``(index, name, probability)``."""
        if isinstance(self.output_kind, outputs.Detections):
            found = self.detections(threshold)[:k]
            return [(d.index, self.class_name(d.label), d.score) for d in found]
        probabilities = self.probabilities
        order = np.argsort(probabilities)[::-1][:k]
        return [(int(i), self.class_name(int(i)), float(probabilities[i])) for i in order]

    def class_name(self, index: int) -> str:
        return self.classes[index] if 0 <= index < len(self.classes) else f"class {index}"

    def detections(self, threshold: float = SCORE_THRESHOLD) -> list[Detection]:
        """The shown item's detections scoring at least ``threshold``, best first."""
        return outputs.detections(self.recording.raw_output, threshold)

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
        return self.output_kind.class_target(cls, self.class_region)

    def class_region(self, cls: int) -> Region:
        """``Region(cls)`` over every position, one object per class (a stable cache key)."""
        return self._regions.setdefault(cls, Region(cls))

    def target_kinds(self) -> tuple[str, ...]:
        """The target kinds this model's output offers."""
        return self.output_kind.targets + (("channel", "unit") if self.site_names else ())

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

    def site_gate(self, site: int) -> Gate | None:
        """The gated activation at ``site`` (``activations="gated"``), ``None`` at a
        rectifier."""
        return self.recording.sites[site].gate

    def mask_keys(self, site: int, channel: int) -> dict[str, ColourKey]:
        """How to read each mask panel at ``site`` showing ``channel``, by panel name."""
        return site_mask_keys(self.site_shape(site), channel, self.site_gate(site) is not None)

    def channels(self, site: int) -> int:
        return self.site_shape(site)[0] if self.site_names else 0

    def coverage(self, rule: str) -> str:
        """What ``rule`` does not cover in this model ("" when it covers everything)."""
        recording = self.recording
        return coverage_message(
            rule, len(recording.sites), tuple(recording.not_guided), recording.activations
        )

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
