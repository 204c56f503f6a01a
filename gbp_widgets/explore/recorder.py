"""How the session records a forward pass: the layer Grad-CAM keeps and the activations
the engine treats as sites, each a new recording of the item shown when it changes."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from gbp_widgets.engine import GuidedBackprop, Recording, layer_activations


class SessionRecording:
    """The recording part of :class:`~gbp_widgets.explore.ExplorerSession` (which gives the
    engine, the batch, the item shown and its caches)."""

    engine: GuidedBackprop
    _layer: str

    @property
    def activations(self) -> str:
        """``"relu"`` or ``"gated"``: what the engine treats as sites (see
        :class:`~gbp_widgets.GuidedBackprop`)."""
        return self.engine.activations

    def set_activations(self, activations: str) -> None:
        """Record the item shown again with ``activations``; nothing changes if that fails."""
        if activations == self.activations:
            return
        previous, self.engine = self.engine, GuidedBackprop(self.engine.model, activations)
        try:
            recording = self._record(self.item, self._layer)
        except Exception:
            self.engine = previous
            raise
        self.recording = recording
        self._parked = OrderedDict()
        self._forget()

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

    def _record(self, item: int, layer: str) -> Recording:
        if layer != "auto" and layer not in dict(self.engine.model.named_modules()):
            raise ValueError(f"no module called {layer!r} in this model for Grad-CAM")
        tensors = tuple(t[item : item + 1] for t in self.batch)
        args, kwargs = self._arguments_of(item)
        spatial = self.one_photo

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
