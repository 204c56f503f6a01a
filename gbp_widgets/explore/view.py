"""What selects a picture (:class:`View`), where a volume is cut (:class:`Cut`), and the one
mapping from a panel pixel back to a position in what the panel draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gbp_widgets.engine import Neuron, Region
from gbp_widgets.explore.names import ALL_CHANNELS, GRID_SIZE, PERCENTILE, SCORE_THRESHOLD


@dataclass(frozen=True)
class DetectionScore:
    """A target: the score of detection ``index`` of the first (only) item, ``(1,)``.

    A callable, as the engine takes for outputs that are not score tensors; equal
    objects for equal indices, so a pass is cached by detection.
    """

    index: int

    def __call__(self, output: object) -> object:
        return output[0]["scores"][self.index : self.index + 1]


Target = int | Neuron | Region | DetectionScore | None


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
class View:
    """Everything that selects a picture."""

    target: Target
    rule: str = "guided"
    display: str = "gradient"
    percentile: float = PERCENTILE
    site: int = 0
    channel: int = ALL_CHANNELS
    cut: Cut = Cut()
    input_index: int = 0
    # Detections scoring less are neither listed nor boxed.
    score_threshold: float = SCORE_THRESHOLD
    # What the output panel or the boxes single out: the Region explained (positions of a
    # dense output, tokens of next-token scores), or the index of a detection.
    chosen: object = None
    # How many channels the site's grid shows (a token x unit grid's unit columns), those
    # that pass the most.
    grid_size: int = GRID_SIZE


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
