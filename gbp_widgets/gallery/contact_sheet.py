"""A page of a Gallery as one picture: tiles in a grid, each the item's picture beside its
saliency map, a caption line under them. NumPy only (no torch, no widgets); the widget draws
the captions as text at :meth:`SheetLayout.caption_at`."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from gbp_widgets.pictures.render import robust_spread

BACKGROUND = (255, 255, 255)
EMPTY_BOX = (232, 232, 232)
SKIPPED_BOX = (250, 215, 215)
INNER_GAP = 4
CAPTION = 18


@dataclass(frozen=True)
class SheetLayout:
    """Where tile ``i`` of a page of ``columns`` x ``rows`` tiles lies, in canvas pixels;
    each thumbnail box is ``size`` x ``size``."""

    columns: int
    rows: int
    size: int = 112
    gap: int = 12

    @property
    def tile_width(self) -> int:
        return 2 * self.size + INNER_GAP

    @property
    def tile_height(self) -> int:
        return self.size + CAPTION

    @property
    def width(self) -> int:
        return self.columns * (self.tile_width + self.gap) - self.gap

    @property
    def height(self) -> int:
        return self.rows * (self.tile_height + self.gap) - self.gap

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def rows_for(self, tiles: int) -> SheetLayout:
        """This layout with only the rows ``tiles`` tiles fill (at least one)."""
        return replace(self, rows=max(1, min(self.rows, -(-tiles // self.columns))))

    def origin(self, i: int) -> tuple[int, int]:
        """The top-left ``(x, y)`` of tile ``i``."""
        row, column = divmod(i, self.columns)
        return column * (self.tile_width + self.gap), row * (self.tile_height + self.gap)

    def caption_at(self, i: int) -> tuple[int, int]:
        """Where tile ``i``'s caption text starts (its baseline's left end)."""
        x, y = self.origin(i)
        return x + 2, y + self.size + CAPTION - 5

    def hit(self, x: float, y: float) -> int | None:
        """The tile under canvas point ``(x, y)``, or ``None`` between tiles."""
        column, within_x = divmod(int(x), self.tile_width + self.gap)
        row, within_y = divmod(int(y), self.tile_height + self.gap)
        if x < 0 or y < 0 or column >= self.columns or row >= self.rows:
            return None
        if within_x >= self.tile_width or within_y >= self.tile_height:
            return None
        return row * self.columns + column


def sheet(
    layout: SheetLayout, tiles: list[tuple[np.ndarray | None, np.ndarray | None, bool]]
) -> np.ndarray:
    """``(height, width, 4)`` uint8 RGBA: for each tile ``(picture, saliency, skipped)``,
    the picture (``(h, w, 3)`` uint8) and the map (``(h, w)`` float, shown as grey scaled
    to its own 99th percentile of ``|map|``), each scaled whole into its box."""
    canvas = np.empty((layout.height, layout.width, 4), dtype=np.uint8)
    canvas[..., :3], canvas[..., 3] = BACKGROUND, 255
    for i, (picture, saliency, skipped) in enumerate(tiles[: layout.per_page]):
        x, y = layout.origin(i)
        empty = SKIPPED_BOX if skipped else EMPTY_BOX
        _paste(canvas, picture, x, y, layout.size, empty)
        grey = None
        if saliency is not None:
            values = np.abs(np.asarray(saliency, dtype=np.float32))
            levels = np.clip(values / robust_spread(values), 0.0, 1.0) * 255
            grey = np.repeat(levels.round().astype(np.uint8)[..., None], 3, axis=2)
        _paste(canvas, grey, x + layout.size + INNER_GAP, y, layout.size, empty)
    return canvas


def _paste(canvas: np.ndarray, picture: np.ndarray | None, x: int, y: int, size: int, empty):
    canvas[y : y + size, x : x + size, :3] = empty
    if picture is None:
        return
    scaled = _scaled(picture, size)
    height, width = scaled.shape[:2]
    top, left = y + (size - height) // 2, x + (size - width) // 2
    canvas[top : top + height, left : left + width, :3] = scaled


def _scaled(picture: np.ndarray, size: int) -> np.ndarray:
    """``picture`` scaled by nearest neighbours so its longer side is ``size``: small maps
    become crisp blocks, as in the Explorer."""
    height, width = picture.shape[:2]
    scale = size / max(height, width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    rows = (np.arange(new_height) * height) // new_height
    columns = (np.arange(new_width) * width) // new_width
    return picture[rows][:, columns]
