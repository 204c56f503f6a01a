"""The items of a batch as recorded: the one shown and a few kept for a return, each with
its own passes and pictures (:class:`Item`), and how a forward pass records one (the layer
Grad-CAM keeps, the activations the engine treats as sites)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from torch import nn

from gbp_widgets.engine import GuidedBackprop, Recording, layer_activations
from gbp_widgets.explore.batch import Batch
from gbp_widgets.explore.output_kinds import OutputKind, Tokens, output_kind
from gbp_widgets.explore.panels import Panels
from gbp_widgets.explore.passes import Passes, Timer
from gbp_widgets.models import Preprocessing

# Items left, or drawn ahead, keep their recording and latest passes (a few), so a step
# back or to a neighbour needs no new pass.
_KEPT_ITEMS = 2
_KEPT_RESULTS = 2


@dataclass(frozen=True)
class Item:
    """One item of the batch, recorded: its index, the recording, the output's kind, and
    the passes and pictures made from them."""

    index: int
    recording: Recording
    output: OutputKind
    passes: Passes
    panels: Panels


class Items:
    """The items of ``batch`` recorded by ``engine``: :attr:`shown`, and a few kept.

    ``output`` is the engine's output choice; ``layer`` the Grad-CAM layer (a module path,
    or ``"auto"``: the last feature map of a picture). Recording item 0 happens here, so a
    batch the model cannot take raises before anything is made.
    """

    def __init__(
        self,
        engine: GuidedBackprop,
        batch: Batch,
        output: object,
        preprocess: Preprocessing | None,
        timer: Timer,
        layer: str = "auto",
        mask_token: int | None = None,
    ) -> None:
        self.engine, self.batch, self.output = engine, batch, output
        self.preprocess, self.timer, self.layer = preprocess, timer, layer
        self.mask_token = mask_token
        self._kept: OrderedDict[int, Item] = OrderedDict()
        self.shown = self.record(0)

    def check(self, index: int) -> None:
        count = self.batch.count
        if not 0 <= index < count:
            raise ValueError(f"item {index} is out of range: there are {count} (0 to {count - 1})")

    def show(self, index: int) -> None:
        """Show item ``index``: one forward pass, none for an item kept."""
        self.check(index)
        if index != self.shown.index:
            item = self._take(index)
            self._keep(self.shown)
            self.shown = item

    @contextmanager
    def another(self, index: int) -> Iterator[Item]:
        """Item ``index`` is :attr:`shown` inside the block, and the item shown before after
        it, as it was; ``index`` is kept for a later :meth:`show`."""
        self.check(index)
        before, self.shown = self.shown, self._take(index)
        try:
            yield self.shown
        finally:
            if self.shown.index == index:
                self._keep(self.shown)
            self.shown = before

    def _take(self, index: int) -> Item:
        kept = self._kept.pop(index, None)
        return kept if kept is not None else self.record(index)

    def _keep(self, item: Item) -> None:
        """Keep ``item`` for a return, with its latest passes only."""
        item.passes.keep(_KEPT_RESULTS)
        self._kept[item.index] = item
        while len(self._kept) > _KEPT_ITEMS:
            self._kept.popitem(last=False)

    def set_activations(self, activations: str) -> None:
        """Record the item shown again with ``activations``; nothing changes if that fails."""
        if activations != self.engine.activations:
            engine = GuidedBackprop(self.engine.model, activations)
            self._again(self.record(self.shown.index, engine=engine))
            self.engine = engine

    def set_layer(self, layer: str) -> None:
        """Grad-CAM layer (a module path, or ``"auto"``); a new forward pass keeps its output.
        A layer Grad-CAM cannot weight is refused before anything changes."""
        if layer != self.layer:
            item = self.record(self.shown.index, layer)
            layer_activations(item.recording, None if layer == "auto" else layer)
            self._again(item)
            self.layer = layer

    def _again(self, item: Item) -> None:
        """``item`` shown in place of the same item recorded otherwise; none is kept."""
        self.shown = item
        self._kept.clear()

    def layer_choices(self) -> tuple[str, ...]:
        """Module paths worth offering for Grad-CAM: containers and convolutions."""
        return tuple(
            path
            for path, module in self.engine.model.named_modules()
            if path and (len(module._modules) or isinstance(module, nn.modules.conv._ConvNd))
        )

    def record(
        self, index: int, layer: str | None = None, engine: GuidedBackprop | None = None
    ) -> Item:
        """Item ``index`` recorded anew (with ``layer`` and ``engine`` when given)."""
        layer, engine = layer or self.layer, engine or self.engine
        if layer != "auto" and layer not in dict(engine.model.named_modules()):
            raise ValueError(f"no module called {layer!r} in this model for Grad-CAM")
        args, kwargs = self.batch.arguments(index)
        spatial = self.batch.one_photo

        def record(keep: tuple[str, ...], last: bool) -> Recording:
            return engine.record(
                self.batch.inputs(index),
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
        ids = recording.token_ids
        tokens = None if ids is None else Tokens(ids, self.mask_token)
        output = output_kind(recording.raw_output, recording.logits, tokens)
        passes = Passes(recording, None if layer == "auto" else layer, self.timer)
        panels = Panels(self.batch, index, recording, output, passes, self.preprocess)
        return Item(index, recording, output, passes, panels)
