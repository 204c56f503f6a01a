"""One view per kind of input: arrays to pictures, and a pointer position back to a unit.

A view knows nothing of models or widgets. It gets one item's arrays without
the batch dimension: an image ``(C, H, W)``, a signal ``(C, L)``, a volume
``(C, D, H, W)`` or a table row ``(F,)``, and draws them into square panels of
``size`` pixels. Sites are drawn by their own shape (:func:`site_plane`),
never stretched into the input's picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gbp_widgets import drawing, render
from gbp_widgets.colour_keys import (
    GATE_KEY,
    MASK_KEY,
    MEAN_GATE_KEY,
    SHARE_ON_KEY,
    ColourKey,
    display_key,
)
from gbp_widgets.explore.names import ALL_CHANNELS, DISPLAY_LABELS
from gbp_widgets.figures import Labelled

PADDING_CELL = (207, 227, 255)
_ROW_OF_CELLS = 16


def on_panel(pixel: int, count: int, size: int) -> int:
    """Which of ``count`` cells spread over a ``size``-pixel panel holds ``pixel``."""
    return min(max(pixel, 0) * count // size, count - 1)


def panel_position(
    extents: tuple[int, ...], row: int, column: int, size: int, cut: Cut | None = None
) -> tuple[int, ...]:
    """The position in an array of spatial ``extents`` under pixel ``(row, column)`` of a
    ``size``-pixel panel drawing it: a row of positions (one axis), rows and columns (two),
    or the slice at ``cut`` (three; the first slice without one). Every view maps a pointer
    back with this, so a click, the read-out and the label under it agree."""
    if len(extents) == 1:
        return (on_panel(column, extents[0], size),)
    if len(extents) == 2:
        return on_panel(row, extents[0], size), on_panel(column, extents[1], size)
    cut = cut or Cut()
    kept = [axis for axis in range(3) if axis != cut.axis]
    position = [0, 0, 0]
    position[cut.axis] = cut.at(extents[cut.axis])
    position[kept[0]] = on_panel(row, extents[kept[0]], size)
    position[kept[1]] = on_panel(column, extents[kept[1]], size)
    return tuple(position)


@dataclass(frozen=True)
class Cut:
    """Where a volume is cut: ``index`` along spatial ``axis`` (0 depth, 1 height,
    2 width) of an input whose extent along that axis is ``extent``."""

    axis: int = 0
    index: int = 0
    extent: int = 1

    def at(self, extent: int) -> int:
        """The matching index in a tensor of ``extent`` along the same axis."""
        return min(self.index * extent // max(self.extent, 1), extent - 1)

    def take(self, values: np.ndarray, first: int = 0) -> np.ndarray:
        """The slice of ``values`` at the matching index, its spatial axes starting at
        dimension ``first`` (1 for ``(C, D, H, W)``, 0 for ``(D, H, W)`` or a photo)."""
        axis = first + self.axis
        return np.take(values, self.at(values.shape[axis]), axis=axis)


@dataclass(frozen=True)
class Spot:
    """A place in one item's input: ``index`` into its array, ``words`` for a person."""

    index: tuple
    words: str


class InputView:
    """The pictures of one kind of input. Subclasses set ``kind`` and ``displays``."""

    kind = ""
    displays: tuple[str, ...] = tuple(DISPLAY_LABELS)

    def __init__(self, shape: tuple[int, ...], feature_names: tuple[str, ...] | None = None):
        self.shape = tuple(shape)
        self.feature_names = feature_names

    @property
    def slices(self) -> tuple[int, ...]:
        """Extent of each axis a volume can be cut along (empty for other kinds)."""
        return ()

    def input_picture(self, values: np.ndarray, picture: np.ndarray, size: int, cut: Cut):
        """The input panel, ``(size, size, 4)``; ``picture`` is its ``(H, W, 3)`` photo."""
        raise NotImplementedError

    def attribution_picture(
        self,
        attribution: np.ndarray,
        display: str,
        percentile: float,
        picture: np.ndarray,
        size: int,
        cut: Cut,
    ) -> np.ndarray:
        """The attribution panel, ``(size, size, 4)``."""
        raise NotImplementedError

    def locate(self, row: int, column: int, size: int, cut: Cut) -> Spot:
        """The input element under panel pixel ``(row, column)``."""
        raise NotImplementedError

    def attribution_key(self, display: str, percentile: float) -> ColourKey | None:
        """How to read the attribution panel's colours; ``None`` where it is drawn with
        axes of its own (curves, bars)."""
        return None


class ImageView(InputView):
    """``(C, H, W)``: the photo, and the attribution as a picture of the same size."""

    kind = "image"

    def input_picture(self, values, picture, size, cut):
        return render.fit(render.to_rgba(picture), size)

    def attribution_picture(self, attribution, display, percentile, picture, size, cut):
        return render.fit(render.display(attribution, display, picture, percentile), size)

    def attribution_key(self, display, percentile):
        return display_key(display, percentile, channels=self.shape[0])

    def locate(self, row, column, size, cut):
        y, x = panel_position(self.shape[1:], row, column, size)
        return Spot((slice(None), y, x), f"pixel (y={y}, x={x})")


class VolumeView(ImageView):
    """``(C, D, H, W)``: one slice through the volume, drawn as an image."""

    kind = "volume"

    @property
    def slices(self) -> tuple[int, ...]:
        return self.shape[1:]

    def plane(self, values: np.ndarray, cut: Cut) -> np.ndarray:
        """``(C, a, b)``: the slice of ``(C, D, H, W)`` values at ``cut``."""
        return cut.take(values, first=1)

    def photo_plane(self, picture: np.ndarray, cut: Cut) -> np.ndarray:
        """``(a, b, 3)``: the slice of a ``(D, H, W, 3)`` photo at ``cut``."""
        return cut.take(picture)

    def input_picture(self, values, picture, size, cut):
        return render.fit(render.to_rgba(self.photo_plane(picture, cut)), size)

    def attribution_picture(self, attribution, display, percentile, picture, size, cut):
        photo = self.photo_plane(picture, cut)
        return render.fit(
            render.display(self.plane(attribution, cut), display, photo, percentile), size
        )

    def locate(self, row, column, size, cut):
        d, y, x = panel_position(self.shape[1:], row, column, size, cut)
        return Spot((slice(None), d, y, x), f"voxel (d={d}, y={y}, x={x})")


class SignalView(InputView):
    """``(C, L)``: curves over position, one per channel, on a shared axis."""

    kind = "signal"
    displays = ("gradient", "saliency", "positive", "negative")

    def input_picture(self, values, picture, size, cut):
        return drawing.curves(values, size)

    def attribution_picture(self, attribution, display, percentile, picture, size, cut):
        return drawing.curves(drawing.signed(attribution, display), size, percentile)

    def locate(self, row, column, size, cut):
        position = drawing.column_position(column, self.shape[1], size)
        return Spot((slice(None), position), f"position {position}")


class TableView(InputView):
    """``(F,)``: a bar per feature, labelled with the feature names."""

    kind = "table"
    displays = ("gradient", "saliency", "positive", "negative")

    def names(self) -> list[str]:
        count = self.shape[0]
        return list(self.feature_names or [f"feature {f}" for f in range(count)])

    def input_picture(self, values, picture, size, cut):
        return drawing.bars(values, size, self.names(), colour=drawing.NEUTRAL)

    def attribution_picture(self, attribution, display, percentile, picture, size, cut):
        return drawing.bars(drawing.signed(attribution, display), size, self.names(), percentile)

    def figure_panels(
        self,
        values: np.ndarray,
        attribution: np.ndarray,
        display: str,
        percentile: float,
        size: int,
    ) -> dict[str, Labelled]:
        """The input and attribution bars for a figure, their labels written by the figure
        in its own font (a picture's pixels go blurry when the figure scales them)."""
        names = self.names()
        labels, width = drawing.bar_labels(names, size)
        plain = {
            "input": drawing.bars(values, size, names, colour=drawing.NEUTRAL, write=False),
            "attribution": drawing.bars(
                drawing.signed(attribution, display), size, names, percentile, write=False
            ),
        }
        return {name: Labelled(picture, labels, width) for name, picture in plain.items()}

    def locate(self, row, column, size, cut):
        feature = drawing.bar_feature(row, self.shape[0], size)
        return Spot((feature,), f"{self.names()[feature]} (#{feature})")


VIEWS: dict[str, type[InputView]] = {
    view.kind: view for view in (ImageView, SignalView, VolumeView, TableView)
}
_RANKS = {"table": 1, "signal": 2, "image": 3, "volume": 4}


def kind_for(shape: tuple[int, ...]) -> str | None:
    """The view for one item of ``shape`` (no batch dimension), or ``None``."""
    return next((kind for kind, rank in _RANKS.items() if rank == len(shape)), None)


def make_view(kind: str, shape: tuple[int, ...], feature_names=None) -> InputView:
    return VIEWS[kind](shape, feature_names)


# -- sites, drawn by their own shape ---------------------------------------------------------


def site_plane(values: np.ndarray, channel: int, cut: Cut | None) -> np.ndarray:
    """The 2-D picture of one site's ``(C, *spatial)`` values (masks or outputs).

    ``(C, H, W)``: the channel, or the mean over channels. ``(C, L)``: the
    channel as a ``(1, L)`` strip, or all channels as a channels x positions
    ``(C, L)`` picture. ``(C, D, H, W)``: the slice at the input's ``cut``,
    then as ``(C, H, W)``. ``(C,)`` units: cells (:func:`cell_layout`), NaN
    where the layout pads; one channel leaves only that unit's cell.
    """
    values = np.asarray(values)
    spatial = values.ndim - 1
    if spatial == 3:
        values = (cut or Cut()).take(values, first=1)
        spatial = 2
    if spatial == 2:
        chosen = values[channel] if channel != ALL_CHANNELS else values.mean(axis=0)
        return chosen.astype(np.float64)
    if spatial == 1:
        return (values[channel : channel + 1] if channel != ALL_CHANNELS else values).astype(
            np.float64
        )
    units = values.astype(np.float64)
    if channel != ALL_CHANNELS:
        units = np.where(np.arange(units.shape[0]) == channel, units, 0.0)
    rows, columns = cell_layout(units.shape[0])
    cells = np.full(rows * columns, np.nan)
    cells[: units.shape[0]] = units
    return cells.reshape(rows, columns)


def site_mask_keys(site_shape: tuple[int, ...], channel: int, soft: bool) -> dict[str, ColourKey]:
    """The keys to the mask panels (by panel name) of a site whose values are
    ``site_shape``, ``(C, *spatial)``: a share of channels where :func:`site_plane`
    averages them (an image or volume site, all channels), else each cell on or off. At
    a gated site (``soft``) the forward mask and the product are grey levels of the gate
    ``s(x)`` (averaged over channels alike)."""
    averaged = len(site_shape) >= 3 and channel == ALL_CHANNELS
    on_off = SHARE_ON_KEY if averaged else MASK_KEY
    gate = (MEAN_GATE_KEY if averaged else GATE_KEY) if soft else on_off
    return {"forward": gate, "backward": on_off, "product": gate}


def cell_layout(count: int) -> tuple[int, int]:
    """Rows and columns of cells for ``count`` units: one row for a few, else near-square."""
    if count <= _ROW_OF_CELLS:
        return 1, count
    columns = math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


def plane_picture(plane: np.ndarray, heat: bool) -> np.ndarray:
    """A :func:`site_plane` as RGBA: grey levels (masks, 0 to 1) or a heat map scaled
    to its peak (outputs); padded cells light blue."""
    padded = np.isnan(plane)
    values = np.where(padded, 0.0, plane)
    picture = render.activation_picture(values) if heat else render.gray_picture(values)
    if padded.any():
        picture = picture.copy()
        picture[padded, :3] = PADDING_CELL
    return picture


def site_unit(
    shape: tuple[int, ...], row: int, column: int, size: int, channel: int, cut: Cut | None
) -> tuple[int | None, tuple[int, ...]] | None:
    """The unit of a site with output ``(C, *spatial)`` under panel pixel ``(row, column)``
    of its :func:`site_plane` drawn at ``size``: ``(channel, position)``, the channel
    ``None`` where the picture shows every channel there; ``None`` on a padding cell."""
    spatial = shape[1:]
    chosen = None if channel == ALL_CHANNELS else channel
    if len(spatial) in (2, 3):
        return chosen, panel_position(spatial, row, column, size, cut)
    r, c = panel_position(_plane_shape(shape, channel, cut), row, column, size)
    if len(spatial) == 0:
        unit = r * _plane_shape(shape, channel, cut)[1] + c
        return (unit, ()) if unit < shape[0] else None
    return (chosen if chosen is not None else r), (c,)


def _plane_shape(shape: tuple[int, ...], channel: int, cut: Cut | None) -> tuple[int, int]:
    spatial = shape[1:]
    if len(spatial) == 0:
        return cell_layout(shape[0])
    if len(spatial) == 1:
        return (1 if channel != ALL_CHANNELS else shape[0]), spatial[0]
    if len(spatial) == 2:
        return spatial
    axis = cut.axis if cut is not None else 0
    kept = [extent for a, extent in enumerate(spatial) if a != axis]
    return kept[0], kept[1]


def channel_tiles(values: np.ndarray, channels: list[int], cut: Cut | None) -> np.ndarray:
    """``(n, h, w)`` planes of the given ``channels`` for the channel grid."""
    spatial = values.ndim - 1
    if spatial == 0:
        return values[channels].reshape(-1, 1, 1)
    return np.stack([site_plane(values, c, cut) for c in channels])
