"""The pictures of one recorded item: every panel of a view, drawn once and kept while
nothing it depends on changes (a picture that did not change is the same object)."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from gbp_widgets.engine import Recording
from gbp_widgets.explore.batch import Batch
from gbp_widgets.explore.names import MASK_PANELS, SITE_PANELS
from gbp_widgets.explore.output_kinds import OutputKind
from gbp_widgets.explore.passes import Passes, Result
from gbp_widgets.explore.rules import COMPARED_RULES, RULES
from gbp_widgets.explore.sites import channel_tiles, plane_picture, site_plane
from gbp_widgets.explore.view import Cut, View
from gbp_widgets.models import Preprocessing
from gbp_widgets.pictures import drawing, render

# The pictures ahead (widgets/ahead.py) share this cache: room for them and the view shown.
_CACHED_PICTURES = 96
_GRID_TILE_PIXELS = 32
_TILE_GAP = 1
# A Linear site's units in the grid: cells this wide, so many to a row, most passing first.
_UNIT_CELL = 26
_UNITS_PER_ROW = 16


class Panels:
    """The pictures of item ``index`` of ``batch``, from its ``recording``, its ``output``
    kind and its ``passes``; ``preprocess`` undoes the inputs' normalisation for photos."""

    def __init__(
        self,
        batch: Batch,
        index: int,
        recording: Recording,
        output: OutputKind,
        passes: Passes,
        preprocess: Preprocessing | None,
    ) -> None:
        self.batch, self.index, self.recording = batch, index, recording
        self.output, self.passes, self.preprocess = output, passes, preprocess
        self._derived: OrderedDict[tuple, object] = OrderedDict()

    def result(self, view: View) -> Result:
        return self.passes.result(view.target, RULES[view.rule])

    def photo(self, index: int = 0) -> np.ndarray:
        """What input ``index`` of the item looks like as a photo: ``(H, W, 3)`` (image),
        ``(D, H, W, 3)`` (volume) ``uint8``, for the input panel and overlays."""
        return self._remember(
            ("photo", index), lambda: self.batch.photo(self.index, index, self.preprocess)
        )

    def input_values(self, index: int = 0) -> np.ndarray:
        """Input ``index`` of the item, without the batch dimension, as its kind takes it."""
        return self.batch.values(self.index, index)

    def attribution(self, result: Result, index: int = 0) -> np.ndarray:
        """Input ``index``'s attribution for the item, as its kind draws it."""
        embedded = result.explanation.embedded
        return self.batch.kinds[index].attribution_values(
            result.attributions[index], None if embedded is None else embedded[0].cpu().numpy()
        )

    def site_units(self, result: Result, view: View) -> np.ndarray | None:
        """The units the planes of ``view``'s site show, in order (``None``: all, where they
        are): a token x unit grid shows the ``view.grid_size`` that ``result`` passes most."""
        site, kind = view.site, self.batch.kinds[view.input_index]
        return self._remember(
            ("units", result.serial, site, view.grid_size),
            lambda: kind.site_units(self.site_masks(result, site)["product"], view.grid_size),
        )

    def site_shape(self, site: int) -> tuple[int, ...]:
        """The site's output shape for the item, ``(C, *spatial)``."""
        return tuple(self.recording.sites[site].shape[1:])

    def site_masks(self, result: Result, site: int) -> dict[str, np.ndarray]:
        """The three masks at ``site`` for the item, ``(C, *spatial)``: boolean, or at a
        gated site the gate ``s(x)`` and the product as floats in ``[0, 1]``."""

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

    def site_output(self, site: int) -> np.ndarray:
        """What the ReLU at ``site`` returned for the item, ``(C, *spatial)``: its
        pre-activation rectified (and clipped at ``k`` for ReLU6 / Hardtanh); at a gated
        site, the activation ``x * s(x)``."""

        def rectify() -> np.ndarray:
            pre = self.recording.site_inputs[site][0].detach().float()
            record = self.recording.sites[site]
            if record.gate is not None:
                return record.gate.activation(pre).cpu().numpy()
            return pre.clamp(0.0, record.upper).cpu().numpy()

        return self._remember(("output", site), rectify)

    def panels(self, view: View, size: int, grid: bool = True) -> dict[str, np.ndarray]:
        """Panel name -> RGBA picture, plus the channel ``grid`` unless ``grid`` is false
        (and the output's own panels, a dense output's label map).

        ``input`` and ``attribution`` are ``(size, size, 4)``; the site panels are
        at the site's own resolution (:func:`gbp_widgets.explore.sites.site_plane`),
        to be shown scaled up with nearest neighbours. Pictures that did not change
        since the last call are the same objects, so a view can skip them.
        """
        result = self.result(view)
        cut = self.batch.kinds[view.input_index].site_cut(view.cut)
        marks = self.output.marks(view)
        panels = {
            "input": self._remember(
                ("input", view.input_index, cut, size, marks),
                lambda: self._input_panel(view, size),
            ),
            "attribution": self._map_picture(result, view, size, "attribution"),
        }
        for name in self.output.own_panels:
            panels[name] = self._remember(
                (name, view.cut, view.chosen), lambda name=name: self.output.panel(name, view)
            )
        if not result.sites:
            blank = self._remember(("blank", size), lambda: _blank(size))
            return {
                **panels,
                **{name: blank for name in SITE_PANELS},
                "grid": blank[:8, :8],
            }
        masks = self.site_masks(result, view.site)
        units = self.site_units(result, view)
        # Units ranked by a backward pass are that pass's pictures, the forward mask's too.
        ranked = None if units is None else (result.serial, view.grid_size)
        for name in MASK_PANELS:
            # Forward masks belong to the recording, not to a backward pass.
            owner = (
                "recording" if name == "forward" and ranked is None else (ranked or result.serial)
            )
            panels[name] = self._remember(
                (name, owner, view.site, view.channel, cut),
                lambda name=name: plane_picture(
                    _columns(site_plane(masks[name], view.channel, cut), units), heat=False
                ),
            )
        panels["activation"] = self._remember(
            ("activation", ranked, view.site, view.channel, cut),
            lambda: plane_picture(
                _columns(site_plane(self.site_output(view.site), view.channel, cut), units),
                heat=True,
            ),
        )
        if grid:
            panels["grid"] = self._remember(
                ("grid", result.serial, view.site, cut, view.grid_size),
                lambda: self._grid(result, view.site, cut, view.grid_size),
            )
        return panels

    def _map_picture(
        self, result: Result, view: View, size: int, role: str = "compare"
    ) -> np.ndarray:
        """``result``'s attribution of the input shown, drawn as ``view`` says."""
        kind = self.batch.kinds[view.input_index]
        cut = kind.site_cut(view.cut)
        key = (role, result.serial, view.input_index, view.display, view.percentile, cut, size)
        return self._remember(
            key,
            lambda: kind.attribution_picture(
                self.attribution(result, view.input_index),
                view.display,
                view.percentile,
                self.photo(view.input_index),
                size,
                view.cut,
            ),
        )

    def _input_panel(self, view: View, size: int) -> np.ndarray:
        kind = self.batch.kinds[view.input_index]
        picture = kind.input_picture(
            self.input_values(view.input_index), self.photo(view.input_index), size, view.cut
        )
        return self.output.on_input(picture, view, size, self.photo().shape[:2])

    def compare_panels(self, view: View, size: int) -> dict[str, np.ndarray]:
        """The compared rules' maps of ``view.target`` side by side, drawn as
        ``view.display`` says, ``(size, size, 4)`` each; with the pictures the rule of
        ``view`` adds beside them (the Grad-CAM heat map over the input, for Guided
        Grad-CAM)."""
        pictures = {
            name: self._map_picture(self.passes.result(view.target, RULES[name]), view, size)
            for name in COMPARED_RULES
        }
        rule = RULES[view.rule]
        if rule.beside:
            result = self.result(view)
            pictures |= self._remember(
                ("beside", result.serial, size),
                lambda: rule.beside_pictures(result, self.photo(), size),
            )
        return pictures

    def _grid(self, result: Result, site: int, cut: Cut | None, size: int) -> np.ndarray:
        ranked, tiles = self._grid_tiles(result, site, cut, size)
        if self._units(site):
            # A unit is one number: a labelled cell says which, a 1 x 1 tile would not.
            labels = [str(unit) for unit in ranked]
            return drawing.ranked_cells(tiles.reshape(-1), labels, _UNITS_PER_ROW, _UNIT_CELL)
        return render.channel_grid(tiles, gap=_TILE_GAP)

    def _units(self, site: int) -> bool:
        """Whether the site's channels are single units (a ``Linear`` layer's outputs)."""
        return self.site_shape(site)[1:] == ()

    def _grid_tiles(self, result: Result, site: int, cut: Cut | None, size: int):
        """The ``size`` channels shown in the grid, most passing first, and their product
        masks ``(n, h, w)`` thinned to at most ``_GRID_TILE_PIXELS`` a side."""
        ranked = [c for c, _ in self.channel_ranking(result, site)][:size]
        tiles = channel_tiles(self.site_masks(result, site)["product"], ranked, cut)
        step = -(-max(tiles.shape[1:]) // _GRID_TILE_PIXELS)
        return ranked, tiles[:, ::step, ::step]

    def grid_channel(self, view: View, row: int, column: int) -> int | None:
        """The channel whose tile covers pixel ``(row, column)`` of ``view``'s grid, if any
        (the inverse of :func:`gbp_widgets.pictures.render.channel_grid`'s layout)."""
        result = self.result(view)
        if not result.sites:
            return None
        cut = self.batch.kinds[view.input_index].site_cut(view.cut)
        ranked, tiles = self._grid_tiles(result, view.site, cut, view.grid_size)
        count, height, width = tiles.shape
        if self._units(view.site):
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


def _columns(plane: np.ndarray, units: np.ndarray | None) -> np.ndarray:
    return plane if units is None else plane[:, units]


def _blank(size: int) -> np.ndarray:
    picture = np.full((size, size, 4), 128, dtype=np.uint8)
    picture[..., 3] = 255
    return picture
