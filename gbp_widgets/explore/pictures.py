"""The session's pictures: every panel of a view, drawn once and kept while nothing it
depends on changes (a picture that did not change is the same object)."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from gbp_widgets import drawing, render
from gbp_widgets.engine import Region
from gbp_widgets.explore import outputs
from gbp_widgets.explore.names import COMPARED_RULES, MASK_PANELS
from gbp_widgets.explore.passes import Result, View
from gbp_widgets.explore.views import Cut, channel_tiles, plane_picture, site_plane

# The pictures ahead (widgets/ahead.py) share this cache: room for them and the view shown.
_CACHED_PICTURES = 96
_GRID_TILES = 64
_GRID_TILE_PIXELS = 32
_TILE_GAP = 1
# A Linear site's units in the grid: cells this wide, so many to a row, most passing first.
_UNIT_CELL = 26
_UNITS_PER_ROW = 16


class SessionPictures:
    """The pictures part of :class:`~gbp_widgets.explore.ExplorerSession` (which gives the
    item, its recording and passes, and ``_derived``, the cache emptied with them)."""

    _derived: OrderedDict

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
        """The three masks at ``site`` for the item shown, ``(C, *spatial)``: boolean, or
        at a gated site the gate ``s(x)`` and the product as floats in ``[0, 1]``."""

        def unpack() -> dict[str, np.ndarray]:
            chosen = result.sites[site]
            masks = {
                "forward": chosen.forward_mask[0],
                "backward": chosen.backward_mask[0],
                "product": chosen.product[0],
            }
            # Soft masks in float32 (a half-precision model's are float16); bools as they are.
            return {
                name: (mask.float() if mask.is_floating_point() else mask).cpu().numpy()
                for name, mask in masks.items()
            }

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
        if isinstance(self.output_kind, outputs.DenseMap):
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

    def _boxed(self, view: View) -> tuple | None:
        """The detections boxed on the input panel: the threshold and the one outlined."""
        if not isinstance(self.output_kind, outputs.Detections):
            return None
        return view.score_threshold, view.chosen

    def _input_panel(self, view: View, size: int) -> np.ndarray:
        shown = self.views[view.input_index]
        picture = shown.input_picture(
            self.input_values(view.input_index), self.photo(view.input_index), size, view.cut
        )
        if not isinstance(self.output_kind, outputs.Detections):
            return picture
        found = self.detections(view.score_threshold)
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
        pre-activation rectified (and clipped at ``k`` for ReLU6 / Hardtanh); at a gated
        site, the activation ``x * s(x)``."""

        def rectify() -> np.ndarray:
            pre = self.recording.site_inputs[site][0].detach().float()
            record = self.recording.sites[site]
            if record.gate is not None:
                return record.gate.activation(pre).cpu().numpy()
            return pre.clamp(0.0, record.upper).cpu().numpy()

        return self._remember(("output", site), rectify)

    def _grid(self, result: Result, site: int, cut: Cut | None) -> np.ndarray:
        ranked, tiles = self._grid_tiles(result, site, cut)
        if self._units(site):
            # A unit is one number: a labelled cell says which, a 1 x 1 tile would not.
            labels = [str(unit) for unit in ranked]
            return drawing.ranked_cells(tiles.reshape(-1), labels, _UNITS_PER_ROW, _UNIT_CELL)
        return render.channel_grid(tiles, gap=_TILE_GAP)

    def _units(self, site: int) -> bool:
        """Whether the site's channels are single units (a ``Linear`` layer's outputs)."""
        return self.site_shape(site)[1:] == ()

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
        if self._units(site):
            at = drawing.ranked_cell_at(row, column, count, _UNITS_PER_ROW, _UNIT_CELL)
            return None if at is None else ranked[at]
        columns = math.ceil(math.sqrt(count))
        tile_row, inside_y = divmod(row, height + _TILE_GAP)
        tile_column, inside_x = divmod(column, width + _TILE_GAP)
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


def _blank(size: int) -> np.ndarray:
    picture = np.full((size, size, 4), 128, dtype=np.uint8)
    picture[..., 3] = 255
    return picture
