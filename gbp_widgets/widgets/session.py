"""What the explorer shows, computed with as few passes as possible (no widget imports).

One forward pass per (image, model) is recorded with its graph kept; a change
of target or rule is one backward pass over it (cached, a few entries deep);
a change of site, channel or display mode only re-renders from cached masks.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch import nn

from gbp_widgets import render
from gbp_widgets.engine import (
    GuidedBackprop,
    Neuron,
    Recording,
    Site,
    coverage_message,
    gradcam_map,
    layer_activations,
)
from gbp_widgets.models import Preprocessing, imagenet_classes

EXPLORER_RULES: tuple[str, ...] = ("gradient", "deconvnet", "guided", "gradcam")
MASK_PANELS: tuple[str, ...] = ("forward", "backward", "product")
COMPARED_RULES: tuple[str, ...] = ("gradient", "deconvnet", "guided")
ALL_CHANNELS = -1
_SERIALS = itertools.count()
_CACHED_RESULTS = 4
_CACHED_PICTURES = 48
_GRID_TILES = 64
_GRID_TILE_PIXELS = 32


@dataclass(frozen=True)
class Result:
    """One backward pass, reduced to what the panels need (all on the CPU).

    ``attribution`` is ``(C, H, W)``; ``cam`` is ``(H, W)`` for Guided
    Grad-CAM, else ``None``; ``grads`` maps site index to the ``(C, h, w)``
    gradient at that site's output. ``serial`` is unique, a safe cache key.
    """

    attribution: np.ndarray
    sites: tuple[Site, ...]
    grads: dict[int, torch.Tensor]
    cam: np.ndarray | None
    layer: str | None
    serial: int = field(default_factory=lambda: next(_SERIALS))


@dataclass(frozen=True)
class View:
    """Everything that selects a picture: target, rule, display and site choices."""

    target: int | Neuron
    rule: str = "guided"
    display: str = "gradient"
    percentile: float = 99.0
    site: int = 0
    channel: int = ALL_CHANNELS


class ExplorerSession:
    """The explorer's model, image and caches.

    ``model`` is used as given (never modified); ``preprocess`` turns an RGB
    picture into its input; ``classes`` names its outputs (ImageNet's for
    1000 outputs, else ``class k``, when not given).
    """

    def __init__(
        self,
        model: nn.Module,
        preprocess: Preprocessing,
        classes: tuple[str, ...] | list[str] | None,
        image: Image.Image | torch.Tensor,
    ) -> None:
        self.engine = GuidedBackprop(model)
        self.preprocess = preprocess
        self._results: OrderedDict[tuple, Result] = OrderedDict()
        self._derived: OrderedDict[tuple, object] = OrderedDict()
        self._layer = "auto"
        self.set_image(image)
        count = self.recording.logits.shape[1]
        if classes is None:
            classes = imagenet_classes() if count == 1000 else [f"class {i}" for i in range(count)]
        if len(classes) != count:
            raise ValueError(f"{len(classes)} class names given for a model with {count} outputs")
        self.classes = tuple(classes)

    # -- inputs -------------------------------------------------------------------------

    def set_image(self, image: Image.Image | torch.Tensor) -> None:
        """Show ``image``: an RGB picture (cropped and normalised) or a model-ready
        ``(3, H, W)`` tensor. One forward pass; nothing changes if it fails."""
        if isinstance(image, torch.Tensor):
            inputs = image.detach().to("cpu", torch.float32)
            display = self.preprocess.unnormalize(inputs[0] if inputs.dim() == 4 else inputs)
            picture = (display.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        else:
            cropped = self.preprocess.crop(image)
            inputs = self.preprocess.normalize(cropped)
            picture = np.asarray(cropped, dtype=np.uint8)
        recording = self._record(inputs, self._layer)
        self.inputs, self.picture, self.recording = inputs, picture, recording
        self._forget()

    def set_layer(self, layer: str) -> None:
        """Grad-CAM layer (a module path, or ``"auto"``); a new forward pass keeps its output."""
        if layer != self._layer:
            recording = self._record(self.inputs, layer)
            # Refused before anything changes: a layer Grad-CAM cannot weight.
            layer_activations(recording, None if layer == "auto" else layer)
            self.recording = recording
            self._layer = layer
            self._forget()

    def _forget(self) -> None:
        self._results.clear()
        self._derived.clear()

    def _record(self, inputs: torch.Tensor, layer: str) -> Recording:
        keep = () if layer == "auto" else (layer,)
        if layer != "auto" and layer not in dict(self.engine.model.named_modules()):
            raise ValueError(f"no module called {layer!r} in this model for Grad-CAM")
        recording = self.engine.record(
            inputs, keep=keep, keep_last_spatial=layer == "auto", keep_values=True
        )
        if layer == "auto" and recording.last_spatial_changed:
            # The model edits its last feature map in place: keep that map as returned.
            path = recording.last_spatial[0]
            recording = self.engine.record(inputs, keep=(path,), keep_values=True)
            recording.last_spatial = (path, recording.kept[path])
        return recording

    # -- what the model said ------------------------------------------------------------

    @property
    def probabilities(self) -> np.ndarray:
        """``(K,)`` softmax of the logits for the shown image."""
        logits = self.recording.logits.detach()[0].double().cpu()
        return torch.softmax(logits, dim=0).numpy()

    def top_classes(self, k: int = 5) -> list[tuple[int, str, float]]:
        """The ``k`` most probable classes as ``(index, name, probability)``."""
        probabilities = self.probabilities
        order = np.argsort(probabilities)[::-1][:k]
        return [(int(i), self.class_name(int(i)), float(probabilities[i])) for i in order]

    def problem(self, name: str, value: object, channels: int) -> str:
        """What is wrong with ``value`` as the explorer's ``name`` (``"target"``,
        ``"site"``, ``"channel"`` or ``"rule"``) for this model and image; "" when
        nothing is, or for other names. ``channels``: channels at the shown site."""
        classes, sites = len(self.classes), len(self.site_names)
        if name == "target" and not 0 <= value < classes:
            return f"class {value} is out of range: this model has {classes} (0 to {classes - 1})"
        if name == "site" and not 0 <= value < max(sites, 1):
            return f"site {value} is out of range: this model has {sites} ReLU sites"
        if name == "channel" and value != ALL_CHANNELS and not 0 <= value < channels:
            return f"channel {value} is out of range: this site has {channels} channels"
        if name == "rule" and value not in EXPLORER_RULES:
            return f"unknown rule {value!r}: use one of {', '.join(EXPLORER_RULES)}"
        return ""

    def class_name(self, index: int) -> str:
        return self.classes[index] if index < len(self.classes) else f"class {index}"

    @property
    def site_names(self) -> list[str]:
        return [record.name for record in self.recording.sites]

    def coverage(self, rule: str) -> str:
        """What ``rule`` does not cover in this model ("" when it covers everything)."""
        return coverage_message(rule, len(self.recording.sites), tuple(self.recording.not_guided))

    # -- backward passes ----------------------------------------------------------------

    def result(self, target: int | Neuron, rule: str) -> Result:
        """The backward pass for ``target`` under ``rule``, from the cache if it is there."""
        key = (target, rule, self._layer)
        if key in self._results:
            self._results.move_to_end(key)
            return self._results[key]
        result = self._backprop(target, rule)
        self._results[key] = result
        while len(self._results) > _CACHED_RESULTS:
            self._results.popitem(last=False)
        return result

    def _backprop(self, target: int | Neuron, rule: str) -> Result:
        if rule == "gradcam":
            layer = None if self._layer == "auto" else self._layer
            path, activations = layer_activations(self.recording, layer)
            cam = gradcam_map(self.recording, activations, target)[0][0, 0].detach().cpu().numpy()
            # The guided half is the guided rule's own pass: cached if it was shown already.
            guided = self.result(target, "guided")
            return Result(
                attribution=guided.attribution * cam,
                sites=guided.sites,
                grads=guided.grads,
                cam=cam,
                layer=path,
            )
        backprop = self.recording.backprop(target, rule)
        return Result(
            attribution=backprop.input_grad[0].detach().cpu().numpy(),
            sites=backprop.sites,
            grads=_first_item(backprop.site_grads),
            cam=None,
            layer=None,
        )

    # -- pictures -----------------------------------------------------------------------

    def site_masks(self, result: Result, site: int) -> dict[str, np.ndarray]:
        """The three boolean masks at ``site`` for the shown image, ``(C, h, w)``
        (a site without spatial dimensions is laid out as ``(1, s, s)``)."""
        key = ("masks", result.serial, site)

        def unpack() -> dict[str, np.ndarray]:
            chosen = result.sites[site]
            forward = _spatial(chosen.forward_mask[0].cpu().numpy())
            backward = _spatial(chosen.backward_mask[0].cpu().numpy())
            return {"forward": forward, "backward": backward, "product": forward & backward}

        return self._remember(key, unpack)

    def channel_ranking(self, result: Result, site: int) -> list[tuple[int, float]]:
        """Channels at ``site`` ordered by the fraction of units the product lets
        through, most first: ``(channel, fraction)``."""

        def rank() -> list[tuple[int, float]]:
            product = self.site_masks(result, site)["product"]
            passing = product.reshape(product.shape[0], -1).mean(axis=1)
            order = np.argsort(-passing, kind="stable")
            return [(int(c), float(passing[c])) for c in order]

        return self._remember(("ranking", result.serial, site), rank)

    def panels(self, view: View, size: int) -> dict[str, np.ndarray]:
        """Panel name -> RGBA picture, plus the channel ``grid``.

        ``input`` and ``attribution`` are ``(size, size, 4)``; the mask panels
        are at the site's own resolution ``(h, w, 4)``, to be shown scaled up
        with nearest neighbours (:func:`gbp_widgets.render.fit`). Pictures that did not change
        since the last call are the same objects, so a view can skip them.
        """
        result = self.result(view.target, view.rule)
        panels = {
            "input": self._remember(
                ("input", size), lambda: render.fit(render.to_rgba(self.picture), size)
            ),
            "attribution": self._remember(
                ("attribution", result.serial, view.display, view.percentile, size),
                lambda: render.fit(
                    render.display(result.attribution, view.display, self.picture, view.percentile),
                    size,
                ),
            ),
        }
        if not result.sites:
            blank = self._remember(("blank", size), lambda: _blank(size))
            return {
                **panels,
                **{name: blank for name in (*MASK_PANELS, "activation")},
                "grid": blank[:8, :8],
            }
        masks = self.site_masks(result, view.site)
        channel = None if view.channel == ALL_CHANNELS else view.channel
        for name in MASK_PANELS:
            # Forward masks belong to the recording, not to a backward pass.
            owner = "recording" if name == "forward" else result.serial
            panels[name] = self._remember(
                (name, owner, view.site, channel),
                lambda name=name: render.mask_picture(masks[name], channel),
            )
        panels["activation"] = self._remember(
            ("activation", view.site, channel),
            lambda: render.activation_picture(self.site_output(view.site), channel),
        )
        panels["grid"] = self._remember(
            ("grid", result.serial, view.site), lambda: self._grid(result, view.site)
        )
        return panels

    def compare_panels(self, view: View, size: int) -> dict[str, np.ndarray]:
        """The Gradient, DeconvNet and Guided maps of ``view.target`` side by side, drawn
        as ``view.display`` says, ``(size, size, 4)`` each; with the Grad-CAM heat map
        over the input as ``"cam"`` when ``view.rule`` is Guided Grad-CAM."""
        pictures = {}
        for rule in COMPARED_RULES:
            result = self.result(view.target, rule)
            pictures[rule] = self._remember(
                ("compare", result.serial, view.display, view.percentile, size),
                lambda result=result: render.fit(
                    render.display(result.attribution, view.display, self.picture, view.percentile),
                    size,
                ),
            )
        if view.rule == "gradcam":
            result = self.result(view.target, "gradcam")
            pictures["cam"] = self._remember(
                ("cam", result.serial, size),
                lambda: render.fit(render.overlay(self.picture, result.cam[None]), size),
            )
        return pictures

    def site_output(self, site: int) -> np.ndarray:
        """What the ReLU at ``site`` returned for the shown image, ``(C, h, w)``: its
        pre-activation rectified (and clipped at ``k`` for ReLU6 / Hardtanh)."""

        def rectify() -> np.ndarray:
            pre = self.recording.site_inputs[site][0].detach().float()
            upper = self.recording.sites[site].upper
            return _spatial(pre.clamp(0.0, upper).cpu().numpy())

        return self._remember(("output", site), rectify)

    def _grid(self, result: Result, site: int) -> np.ndarray:
        return render.channel_grid(self._grid_tiles(result, site)[1])

    def _grid_tiles(self, result: Result, site: int) -> tuple[list[int], np.ndarray]:
        """The channels shown in the grid, most passing first, and their product masks
        ``(n, h, w)`` thinned to at most ``_GRID_TILE_PIXELS`` a side."""
        ranked = [c for c, _ in self.channel_ranking(result, site)][:_GRID_TILES]
        tiles = self.site_masks(result, site)["product"][ranked]
        step = -(-max(tiles.shape[1:]) // _GRID_TILE_PIXELS)
        return ranked, tiles[:, ::step, ::step]

    def grid_channel(self, result: Result, site: int, row: int, column: int) -> int | None:
        """The channel whose tile covers pixel ``(row, column)`` of the grid, if any
        (the inverse of :func:`gbp_widgets.render.channel_grid`'s layout, gap 1)."""
        if not result.sites:
            return None
        ranked, tiles = self._grid_tiles(result, site)
        count, height, width = tiles.shape
        columns = math.ceil(math.sqrt(count))
        tile_row, inside_y = divmod(row, height + 1)
        tile_column, inside_x = divmod(column, width + 1)
        index = tile_row * columns + tile_column
        if inside_y >= height or inside_x >= width or tile_column >= columns or index >= count:
            return None
        return ranked[index]

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
        height, width = self.picture.shape[:2]
        y, x = min(row * height // size, height - 1), min(column * width // size, width - 1)
        values: dict[str, object] = {
            "y": y,
            "x": x,
            "rgb": tuple(int(v) for v in self.picture[y, x]),
            "attribution": tuple(float(v) for v in result.attribution[:, y, x]),
        }
        if not result.sites:
            return values
        masks = self.site_masks(result, view.site)
        channels, site_h, site_w = masks["forward"].shape
        sy, sx = min(row * site_h // size, site_h - 1), min(column * site_w // size, site_w - 1)
        values.update(site_y=sy, site_x=sx)
        pre = _spatial(self.recording.site_inputs[view.site][0].cpu().numpy())
        grad = result.grads.get(view.site)
        grad = _spatial(grad.cpu().numpy()) if grad is not None else np.zeros_like(pre)
        output = self.site_output(view.site)
        if view.channel == ALL_CHANNELS:
            values.update(
                {name: float(mask[:, sy, sx].mean()) for name, mask in masks.items()},
                pre_activation=float(pre[:, sy, sx].mean()),
                gradient=float(grad[:, sy, sx].mean()),
                output=float(output[:, sy, sx].mean()),
            )
        else:
            c = view.channel
            values.update(
                {name: int(mask[c, sy, sx]) for name, mask in masks.items()},
                pre_activation=float(pre[c, sy, sx]),
                gradient=float(grad[c, sy, sx]),
                output=float(output[c, sy, sx]),
            )
        return values


def _blank(size: int) -> np.ndarray:
    picture = np.full((size, size, 4), 128, dtype=np.uint8)
    picture[..., 3] = 255
    return picture


def _first_item(grads: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
    return {index: grad[0].detach().cpu() for index, grad in grads.items()}


def _spatial(values: np.ndarray) -> np.ndarray:
    """``(C, h, w)`` as is; a ``(C,)`` vector of units as ``(1, s, s)``, zero-padded."""
    if values.ndim == 3:
        return values
    flat = values.reshape(-1)
    side = int(np.ceil(np.sqrt(flat.size)))
    padded = np.zeros(side * side, dtype=flat.dtype)
    padded[: flat.size] = flat
    return padded.reshape(1, side, side)
