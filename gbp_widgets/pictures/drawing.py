"""Pictures for inputs that are not photos: curves, bars, label maps and boxes.

NumPy and Pillow only (no torch, no widgets), like :mod:`gbp_widgets.pictures.render`.
Every function returns an opaque ``uint8`` RGBA picture ``(size, size, 4)``
(or the input picture's shape for :func:`boxes_on`), so a canvas shows exactly
these pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gbp_widgets.pictures.render import as_array, robust_spread

# Matplotlib's tab10, so curves look like the notebooks' plots.
CURVE_COLOURS = np.array(
    [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ],
    dtype=np.uint8,
)
POSITIVE = (200, 30, 45)
NEGATIVE = (30, 100, 190)
NEUTRAL = (110, 110, 110)
ZERO_LINE = (190, 190, 190)
BOX = (255, 140, 0)
CHOSEN_BOX = (0, 229, 255)
_MARGIN = 4


def signed(values: np.ndarray, mode: str) -> np.ndarray:
    """``values`` as a display mode shows them: as they are (``gradient``), ``|v|``
    (``saliency``), or only their positive or negative part, as magnitudes."""
    if mode == "gradient":
        return values
    if mode == "saliency":
        return np.abs(values)
    if mode == "positive":
        return np.maximum(values, 0.0)
    if mode == "negative":
        return np.maximum(-values, 0.0)
    raise ValueError(f"unknown display {mode!r} for curves and bars")


def curves(values: object, size: int, percentile: float = 100.0) -> np.ndarray:
    """``(C, L)`` values drawn as one curve per channel over position, on a shared
    vertical axis with a grey zero line. Position ``l`` lies in columns
    ``l * size // L`` onwards (see :func:`column_position`). ``percentile`` of
    ``|values|`` is the axis' reach; larger values are clipped at the edge."""
    array = np.nan_to_num(as_array(values).astype(np.float64))
    if array.ndim == 1:
        array = array[None]
    reach = robust_spread(array, percentile)
    low = -reach if array.min() < 0 else 0.0
    high = reach if array.max() > 0 or low == 0.0 else 0.0
    picture = np.full((size, size, 3), 255, dtype=np.uint8)
    rows = np.arange(size)[:, None]
    picture[_row_of(np.zeros(1), low, high, size)[0]] = ZERO_LINE
    for channel, series in enumerate(array):
        top, bottom = _column_spans(series, low, high, size)
        on = (rows >= top[None, :]) & (rows <= bottom[None, :])
        picture[on] = CURVE_COLOURS[channel % len(CURVE_COLOURS)]
    return _opaque(picture)


def column_position(column: int, length: int, size: int) -> int:
    """The position ``l`` of a length-``length`` series drawn by :func:`curves` at ``column``."""
    return min(max(column, 0) * length // size, length - 1)


def _row_of(values: np.ndarray, low: float, high: float, size: int) -> np.ndarray:
    span = (high - low) or 1.0
    fraction = (high - np.clip(values, low, high)) / span
    return np.round(_MARGIN + fraction * (size - 1 - 2 * _MARGIN)).astype(int)


def _column_spans(series: np.ndarray, low: float, high: float, size: int):
    """Top and bottom row of the piecewise-linear curve inside each column."""
    length = series.shape[0]
    steps = max(4, -(-2 * length // size))
    # Sample the curve densely; each column spans the rows its samples reach.
    x = (np.arange(size * steps) + 0.5) / (size * steps) * length - 0.5
    dense = np.interp(x, np.arange(length), series).reshape(size, steps)
    rows = _row_of(dense, low, high, size)
    top, bottom = rows.min(axis=1), rows.max(axis=1)
    # Join each column to the next so steep curves stay connected.
    top[:-1] = np.minimum(top[:-1], rows[1:, 0])
    bottom[:-1] = np.maximum(bottom[:-1], rows[1:, 0])
    return top, bottom


def bars(
    values: object,
    size: int,
    labels: Sequence[str] | None = None,
    percentile: float = 100.0,
    colour: tuple[int, int, int] | None = None,
    write: bool = True,
) -> np.ndarray:
    """One horizontal bar per feature, feature ``f`` in rows ``f * size // F`` onwards
    (see :func:`bar_feature`): red right for positive, blue left for negative (or all
    in ``colour``), from a zero line at the left edge when no value is negative, else
    in the middle. ``labels`` are written beside the bars, in a font drawn at its pixel
    size (never scaled), when the rows are tall enough to read; with ``write`` false
    their column is left empty, for a figure to write them (:func:`bar_labels`)."""
    array = np.nan_to_num(as_array(values).astype(np.float64).reshape(-1))
    count = array.shape[0]
    picture = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    height = size / count
    left = _label_width(size) if labels is not None and height >= LABEL_PIXELS else 0
    reach = robust_spread(array, percentile)
    signed_axis = array.min() < 0
    zero = left + (size - left) / 2 if signed_axis else left + _MARGIN
    scale = (size - zero - _MARGIN) / reach
    for feature, value in enumerate(array):
        top, bottom = feature * height, (feature + 1) * height - (1 if height >= 4 else 0)
        end = zero + float(np.clip(value, -reach, reach)) * scale
        fill = colour or (POSITIVE if value >= 0 else NEGATIVE)
        draw.rectangle([min(zero, end), top, max(zero, end), bottom], fill=fill)
        if left and write:
            text = fit_text(draw, labels[feature], left - 4)
            draw.text((2, top + height / 2), text, fill=(0, 0, 0), font=_font(), anchor="lm")
    draw.line([zero, 0, zero, size], fill=ZERO_LINE)
    return _opaque(np.asarray(picture))


def bar_labels(labels: Sequence[str], size: int) -> tuple[tuple[tuple[float, str], ...], int]:
    """Where :func:`bars` puts each label at ``size`` pixels: ``((row, label), ...)`` and
    the width of the label column; none where the rows are too short to read."""
    height = size / len(labels)
    if height < LABEL_PIXELS:
        return (), 0
    return tuple(((f + 0.5) * height, label) for f, label in enumerate(labels)), _label_width(size)


def bar_feature(row: int, count: int, size: int) -> int:
    """The feature whose bar :func:`bars` drew at ``row``."""
    return min(max(row, 0) * count // size, count - 1)


def _label_width(size: int) -> int:
    return int(size * 0.4)


# Labels drawn on pictures: Pillow's own scalable font at this many pixels, so they read
# sharp at the panel size (its default bitmap font is 6 pixels high).
LABEL_PIXELS = 11


@cache
def _font() -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=LABEL_PIXELS)


def fit_text(draw: ImageDraw.ImageDraw, text: str, width: float, font=None) -> str:
    """``text``, cut with an ellipsis to what fits in ``width`` pixels of ``font`` (the
    label font by default)."""
    font = font or _font()
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def ranked_cells(values: object, labels: Sequence[str], per_row: int, cell: int) -> np.ndarray:
    """Units as square cells of ``cell`` pixels, ``per_row`` to a row in the order given,
    each grey from black (0) to white (1) with its label under it: ``(h, w, 4)``."""
    array = np.clip(np.nan_to_num(as_array(values).astype(np.float64).reshape(-1)), 0, 1)
    rows = -(-array.shape[0] // per_row)
    pitch = cell + LABEL_PIXELS + 4
    picture = Image.new("RGB", (per_row * (cell + 1) - 1, rows * pitch), (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    for index, (value, label) in enumerate(zip(array, labels, strict=True)):
        row, column = divmod(index, per_row)
        left, top = column * (cell + 1), row * pitch
        grey = int(round(value * 255))
        draw.rectangle([left, top, left + cell - 1, top + cell - 1], fill=(grey,) * 3)
        draw.rectangle([left, top, left + cell - 1, top + cell - 1], outline=ZERO_LINE)
        text = fit_text(draw, label, cell)
        draw.text(
            (left + cell / 2, top + cell + 2), text, fill=(0, 0, 0), font=_font(), anchor="mt"
        )
    return _opaque(np.asarray(picture))


def ranked_cell_at(row: int, column: int, count: int, per_row: int, cell: int) -> int | None:
    """The index of the cell :func:`ranked_cells` drew at pixel ``(row, column)``, if any."""
    pitch = cell + LABEL_PIXELS + 4
    grid_row, inside_y = divmod(row, pitch)
    grid_column, inside_x = divmod(column, cell + 1)
    index = grid_row * per_row + grid_column
    if inside_x >= cell or grid_column >= per_row or index >= count or row < 0 or column < 0:
        return None
    return index


def label_map(labels: object, chosen: object | None = None) -> np.ndarray:
    """An ``(H, W)`` map of class indices in distinct colours (class ``k`` always the
    same colour); outside the bool mask ``chosen``, colours are dimmed."""
    array = as_array(labels).astype(np.int64)
    palette = _palette()
    picture = palette[array % len(palette)].astype(np.float64)
    if chosen is not None:
        inside = as_array(chosen).astype(bool)
        picture[~inside] = 0.35 * picture[~inside] + 0.65 * 255
    return _opaque(np.round(picture).astype(np.uint8))


def label_colour(label: int) -> tuple[int, int, int]:
    """The RGB colour :func:`label_map` gives class ``label`` (where nothing is dimmed)."""
    palette = _palette()
    return tuple(int(v) for v in palette[label % len(palette)])


def _palette() -> np.ndarray:
    """Twenty distinct colours: background (class 0) black, then tab10 and lighter tab10."""
    lighter = (CURVE_COLOURS.astype(np.int64) + 255) // 2
    return np.concatenate([[(0, 0, 0)], CURVE_COLOURS, lighter[:9]]).astype(np.uint8)


def boxes_on(
    picture: np.ndarray, boxes: Sequence[Sequence[float]], chosen: int | None = None
) -> np.ndarray:
    """``picture`` ``(H, W, 4)`` with rectangle outlines at ``boxes`` ``(x0, y0, x1, y1)``
    in its pixels; the ``chosen`` one in cyan, the others orange."""
    image = Image.fromarray(picture[..., :3].copy())
    draw = ImageDraw.Draw(image)
    order = [i for i in range(len(boxes)) if i != chosen] + ([chosen] if chosen is not None else [])
    for index in order:
        x0, y0, x1, y1 = (float(v) for v in boxes[index])
        colour = CHOSEN_BOX if index == chosen else BOX
        draw.rectangle([x0, y0, x1, y1], outline=colour, width=2 if index == chosen else 1)
    return _opaque(np.asarray(image))


def _opaque(rgb: np.ndarray) -> np.ndarray:
    out = np.empty(rgb.shape[:2] + (4,), dtype=np.uint8)
    out[..., :3] = rgb[..., :3]
    out[..., 3] = 255
    return out
