"""A site drawn by its own shape, never stretched into the input's picture: its planes, their
keys, the channel grid's tiles, and a panel pixel back to a unit.

A site's values are ``(C, *spatial)``: channels over no positions (a ``Linear`` layer's
units), one axis (a signal's), two (an image's) or three (a volume's, cut where the input
is cut).
"""

from __future__ import annotations

import math

import numpy as np

from gbp_widgets.explore.names import ALL_CHANNELS
from gbp_widgets.explore.view import Cut, panel_position
from gbp_widgets.pictures import render
from gbp_widgets.pictures.colour_keys import (
    GATE_KEY,
    GATED_PRODUCT_KEY,
    MASK_KEY,
    MEAN_GATE_KEY,
    MEAN_GATED_PRODUCT_KEY,
    SHARE_ON_KEY,
    ColourKey,
)

PADDING_CELL = (207, 227, 255)
_ROW_OF_CELLS = 16


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
    a gated site (``soft``) the forward mask is grey levels of the gate ``s(x)``, and the
    product of ``s(x) 1[g>0]`` (each averaged over channels alike)."""
    averaged = len(site_shape) >= 3 and channel == ALL_CHANNELS
    on_off = SHARE_ON_KEY if averaged else MASK_KEY
    if not soft:
        return {"forward": on_off, "backward": on_off, "product": on_off}
    gate = MEAN_GATE_KEY if averaged else GATE_KEY
    product = MEAN_GATED_PRODUCT_KEY if averaged else GATED_PRODUCT_KEY
    return {"forward": gate, "backward": on_off, "product": product}


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
