"""What the Explorer shows, computed with as few passes as possible (no widget imports).

One forward pass per (item, model) is recorded with its graph kept; a change of
target or rule is one backward pass over it (cached, a few entries deep); a
change of site, channel, display or slice only re-renders from cached masks.

The session is made of parts that own their state: :class:`~gbp_widgets.explore.items.Items`
(the batch and the items recorded from it), and for each item its
:class:`~gbp_widgets.explore.passes.Passes` and :class:`~gbp_widgets.explore.panels.Panels`;
read-outs are :mod:`~gbp_widgets.explore.readings`' functions of an item. The session puts
them together for the item shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import numpy as np
import torch
from torch import nn

from gbp_widgets.engine import Explanation, Gate, GuidedBackprop, Region, coverage_message
from gbp_widgets.explore import readings
from gbp_widgets.explore.batch import Batch, make_batch, picture_inputs
from gbp_widgets.explore.input_kinds import InputKind
from gbp_widgets.explore.items import Item, Items
from gbp_widgets.explore.names import SCORE_THRESHOLD
from gbp_widgets.explore.output_kinds import Detection, OutputKind
from gbp_widgets.explore.passes import Result, Timer
from gbp_widgets.explore.rules import GUIDED, RULES
from gbp_widgets.explore.view import Target, View
from gbp_widgets.models import Preprocessing
from gbp_widgets.text import encode_text, mask_token_id, token_words


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
    scaled from their own minimum to maximum. ``kinds``: the kind of each input,
    chosen from its shape when not given. ``tokenizer``: for token ids ``(N, T)``, any
    callable ``str -> ids`` (a Hugging Face tokenizer as it is) that also turns ids back
    into texts; it writes the tokens and a language model's vocabulary, and takes
    :meth:`set_text`. ``activations``: the engine's (``"gated"``
    makes GELU, SiLU, Mish and Hardswish sites too: our extension). ``rule`` arguments
    are the Explorer's rule names (:data:`~gbp_widgets.explore.rules.RULES`). The model
    is never modified.
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
        tokenizer: object = None,
    ) -> None:
        self.preprocess = preprocess
        self.feature_names = tuple(feature_names) if feature_names is not None else None
        self.tokenizer = tokenizer
        self.words = None if tokenizer is None else partial(token_words, tokenizer)
        self.timer = Timer()
        engine = GuidedBackprop(model, activations=activations)
        batch = make_batch(
            model, inputs, pictures, kinds, self.feature_names, forward_args, forward_kwargs,
            self.words,
        )  # fmt: skip
        mask = mask_token_id(tokenizer)
        self.items = Items(engine, batch, output, preprocess, self.timer, mask_token=mask)
        if classes is None and self.output_kind.spelled and self.words is not None:
            classes = self.words(range(self.output_kind.class_count()))
        self.classes = self.output_kind.class_names(classes)

    # -- inputs -------------------------------------------------------------------------

    def set_inputs(self, inputs, pictures: list[np.ndarray] | None = None) -> None:
        """Show new inputs of the same kinds (item 0); nothing changes if they fail."""
        old, engine = self.items, self.items.engine
        batch = make_batch(
            engine.model,
            inputs,
            pictures,
            tuple(kind.kind for kind in old.batch.kinds),
            self.feature_names,
            old.batch.forward_args,
            old.batch.forward_kwargs,
            self.words,
        )
        self.items = Items(
            engine, batch, old.output, self.preprocess, self.timer, old.layer, old.mask_token
        )

    def set_text(self, text: str) -> None:
        """Show ``text``, tokenised by the session's tokenizer, as the only item; nothing
        changes if the tokenizer or the model cannot take it."""
        if self.tokenizer is None:
            raise ValueError("text is for token models: give the Explorer a tokenizer=")
        self.set_inputs(encode_text(self.tokenizer, text))

    @property
    def texts(self) -> bool:
        """Whether the session shows token ids it can write as text (it has a tokenizer)."""
        return self.tokenizer is not None and self.kinds[0].ids

    def set_image(self, image) -> None:
        """Show one picture (a PIL image, cropped and normalised by ``preprocess``) or a
        model-ready ``(3, H, W)`` or ``(1, 3, H, W)`` tensor, as the only item."""
        given = picture_inputs(image, self.preprocess or Preprocessing())
        self.set_inputs(given["inputs"], given["pictures"])

    def set_item(self, item: int) -> None:
        """Show item ``item`` of the batch: one forward pass, none for an item shown or
        drawn ahead (:meth:`another_item`) lately; nothing changes if it fails."""
        self.items.show(item)

    @contextmanager
    def another_item(self, item: int) -> Iterator[None]:
        """The session shows ``item`` inside the block, and the item it showed before
        after it, as it was; what was computed for ``item`` is kept for :meth:`set_item`."""
        with self.items.another(item):
            yield

    def set_layer(self, layer: str) -> None:
        """Grad-CAM layer (a module path, or ``"auto"``); a new forward pass keeps its output."""
        self.items.set_layer(layer)

    def set_activations(self, activations: str) -> None:
        """Record the item shown again with ``activations``; nothing changes if that fails."""
        self.items.set_activations(activations)

    def layer_choices(self) -> tuple[str, ...]:
        """Module paths worth offering for Grad-CAM: containers and convolutions."""
        return self.items.layer_choices()

    @property
    def picture_side(self) -> int:
        """The side of the square pictures the model takes (``preprocess``'s, ImageNet's
        224 without one)."""
        return (self.preprocess or Preprocessing()).size

    @property
    def engine(self) -> GuidedBackprop:
        return self.items.engine

    @property
    def activations(self) -> str:
        """``"relu"`` or ``"gated"``: what the engine treats as sites (see
        :class:`~gbp_widgets.GuidedBackprop`)."""
        return self.items.engine.activations

    @property
    def batch(self) -> Batch:
        return self.items.batch

    @property
    def shown(self) -> Item:
        """The item shown, with its recording, output kind, passes and pictures."""
        return self.items.shown

    @property
    def item(self) -> int:
        return self.items.shown.index

    @property
    def recording(self):
        return self.items.shown.recording

    @property
    def output_kind(self) -> OutputKind:
        return self.items.shown.output

    @property
    def count(self) -> int:
        """``N``, the number of items."""
        return self.batch.count

    @property
    def inputs(self) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The model-ready inputs of the item shown, with leading dimension 1."""
        return self.batch.inputs(self.item)

    @property
    def kinds(self) -> tuple[InputKind, ...]:
        """The kind of each input."""
        return self.batch.kinds

    @property
    def kind(self) -> str:
        """The first input's kind, by name."""
        return self.batch.kinds[0].kind

    @property
    def one_photo(self) -> bool:
        """Whether each item is one picture: then photos, uploads and Grad-CAM (which
        weights an image model's feature map) apply."""
        return self.batch.one_photo

    @property
    def pass_seconds(self) -> float:
        """How long the last backward pass that was not in a cache took, in seconds."""
        return self.timer.seconds

    @pass_seconds.setter
    def pass_seconds(self, seconds: float) -> None:
        self.timer.seconds = seconds

    # -- what the model said ------------------------------------------------------------

    @property
    def probabilities(self) -> np.ndarray:
        """``(K,)``: softmax of the class scores; for a dense output the fraction of
        positions where each class is predicted; the score itself for one score."""
        return self.output_kind.probabilities()

    def top_classes(
        self, k: int = 5, threshold: float = SCORE_THRESHOLD, region: Region | None = None
    ) -> list[tuple[int, str, float]]:
        """The ``k`` most probable classes (detections, for a detector) as ``(index, name,
        probability)``; within ``region``'s positions where one is chosen (for next-token
        scores, the tokens most likely to follow its tokens; by default the last)."""
        return self.output_kind.top(k, threshold, self.class_name, region)

    def class_name(self, index: int) -> str:
        return self.classes[index] if 0 <= index < len(self.classes) else f"class {index}"

    def detections(self, threshold: float = SCORE_THRESHOLD) -> list[Detection]:
        """The shown item's detections scoring at least ``threshold``, best first (none
        but a detector's)."""
        return self.output_kind.detections(threshold)

    def first_class(self) -> int:
        """The class explained first on a new item: the most probable (0 when none is)."""
        top = self.top_classes(1)
        return top[0][0] if top else 0

    def predicted_labels(self) -> np.ndarray:
        """The class predicted at each position of a dense output, ``(*positions)``."""
        return self.output_kind.labels

    def detection_at(
        self, row: int, column: int, size: int, threshold: float = SCORE_THRESHOLD
    ) -> Detection | None:
        """The detection whose box holds input-panel pixel ``(row, column)`` (the smallest)."""
        return self.output_kind.detection_at(row, column, size, self.photo().shape[:2], threshold)

    def class_target(self, cls: int) -> Target:
        """What explaining class ``cls`` of the output means: the class index itself, every
        position of it for a dense output, nothing to choose for a single score, its score
        after the last token for next-token scores."""
        return self.output_kind.class_target(cls)

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
        return self.shown.panels.site_shape(site)

    def site_gate(self, site: int) -> Gate | None:
        """The gated activation at ``site`` (``activations="gated"``), ``None`` at a
        rectifier."""
        return self.recording.sites[site].gate

    def channels(self, site: int) -> int:
        return self.site_shape(site)[0] if self.site_names else 0

    def widest_grid(self, input_index: int = 0) -> int:
        """The most channels a site's grid can show (a token site's: units per token)."""
        kind = self.kinds[input_index]
        return max(
            (kind.grid_width(self.site_shape(s)) for s in range(len(self.site_names))), default=0
        )

    def coverage(self, rule: str = GUIDED.name) -> str:
        """What ``rule`` (by default guided) does not cover in this model ("" when it
        covers everything)."""
        recording = self.recording
        return coverage_message(
            RULES[rule].backward.name,
            len(recording.sites),
            tuple(recording.not_guided),
            recording.activations,
        )

    # -- passes and pictures of the item shown -------------------------------------------

    def result(self, target: Target, rule: str) -> Result:
        """The backward pass for ``target`` under ``rule``, from the cache if it is there;
        :attr:`pass_seconds` is how long the last one not in the cache took."""
        return self.shown.passes.result(target, RULES[rule])

    def has_pass(self, target: Target, rule: str) -> bool:
        """Whether :meth:`result` for ``target`` under ``rule`` is in the cache: a
        picture of it costs no backward pass."""
        return self.shown.passes.has(target, RULES[rule])

    def explanation(self, target: Target, rule: str) -> Explanation:
        """The engine's :class:`Explanation` for the item shown (batch of one); for Guided
        Grad-CAM, the guided pass it is made from."""
        return self.result(target, rule).explanation

    def panels(self, view: View, size: int, grid: bool = True) -> dict[str, np.ndarray]:
        """See :meth:`gbp_widgets.explore.panels.Panels.panels`."""
        return self.shown.panels.panels(view, size, grid)

    def compare_panels(self, view: View, size: int) -> dict[str, np.ndarray]:
        """See :meth:`gbp_widgets.explore.panels.Panels.compare_panels`."""
        return self.shown.panels.compare_panels(view, size)

    def site_masks(self, result: Result, site: int) -> dict[str, np.ndarray]:
        """See :meth:`gbp_widgets.explore.panels.Panels.site_masks`."""
        return self.shown.panels.site_masks(result, site)

    def channel_ranking(self, result: Result, site: int) -> list[tuple[int, float]]:
        """See :meth:`gbp_widgets.explore.panels.Panels.channel_ranking`."""
        return self.shown.panels.channel_ranking(result, site)

    def site_output(self, site: int) -> np.ndarray:
        """See :meth:`gbp_widgets.explore.panels.Panels.site_output`."""
        return self.shown.panels.site_output(site)

    def photo(self, index: int = 0) -> np.ndarray:
        """See :meth:`gbp_widgets.explore.panels.Panels.photo`."""
        return self.shown.panels.photo(index)

    def input_values(self, index: int = 0) -> np.ndarray:
        """Input ``index`` of the item shown, without the batch dimension, as its kind
        takes it."""
        return self.shown.panels.input_values(index)

    def attribution(self, result: Result, index: int = 0) -> np.ndarray:
        return self.shown.panels.attribution(result, index)

    def grid_units(self, view: View) -> np.ndarray | None:
        """The units a token x unit grid of ``view`` shows, in order (``None``: no grid, and
        then no backward pass is asked for)."""
        kind = self.kinds[view.input_index]
        if not self.site_names or not kind.unit_grid(self.site_shape(view.site)):
            return None
        panels = self.shown.panels
        return panels.site_units(panels.result(view), view)

    def unit_at(self, view: View, row: int, column: int, size: int):
        """See :func:`gbp_widgets.explore.readings.unit_at`."""
        return readings.unit_at(self.shown.panels, view, row, column, size)

    def readout(
        self, view: View, row: int, column: int, size: int, panel: str = "input"
    ) -> dict[str, object]:
        """The numbers under pixel ``(row, column)`` of ``size``-pixel ``panel``."""
        return readings.readout(self.shown.panels, view, row, column, size, self.class_name, panel)
