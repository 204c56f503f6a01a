"""Tokens drawn as cells: a near-square grid of one cell per token, its text written in a
monospaced font and its colour a score's. The grid fills a square panel, so a pointer goes
back to a token by the same layout (:func:`token_at`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from matplotlib import colormaps, font_manager
from PIL import Image, ImageDraw, ImageFont

from gbp_widgets.pictures.colour_keys import TOKEN_MAGNITUDE, TOKEN_SIGNED
from gbp_widgets.pictures.drawing import fit_text

# White cells for the input; the text black or white, whichever reads on the cell.
BLANK = (255, 255, 255)
_GAP = 2


def score_colours(scores: np.ndarray, signed: bool, percentile: float) -> np.ndarray:
    """RGB ``(T, 3)`` ``uint8`` for token scores ``(T,)``, clipped at the ``percentile`` of
    their magnitudes: blue below 0 and red above when ``signed``, else white to red."""
    scores = np.asarray(scores, dtype=np.float64)
    clip = float(np.percentile(np.abs(scores), percentile)) if scores.size else 0.0
    scaled = np.clip(scores / clip, -1.0, 1.0) if clip > 0 else np.zeros_like(scores)
    if signed:
        rgba = colormaps[TOKEN_SIGNED](0.5 + 0.5 * scaled)
    else:
        rgba = colormaps[TOKEN_MAGNITUDE](np.abs(scaled))
    return (rgba[:, :3] * 255).round().astype(np.uint8)


def token_layout(count: int) -> tuple[int, int]:
    """Rows and columns of cells for ``count`` tokens: near-square, wider than tall."""
    columns = max(1, math.ceil(math.sqrt(count)))
    return max(1, math.ceil(count / columns)), columns


def token_box(token: int, size: int, count: int) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)``: the cell of token ``token`` in a ``size``-pixel panel of
    ``count`` tokens (the inverse of :func:`token_at`)."""
    rows, columns = token_layout(count)
    row, column = divmod(token, columns)
    return (
        column * size / columns,
        row * size / rows,
        (column + 1) * size / columns - 1,
        (row + 1) * size / rows - 1,
    )


def token_at(row: int, column: int, size: int, count: int) -> int | None:
    """The token whose cell holds pixel ``(row, column)`` of a ``size``-pixel panel of
    ``count`` tokens; ``None`` past the last one."""
    rows, columns = token_layout(count)
    r = min(max(row, 0) * rows // size, rows - 1)
    c = min(max(column, 0) * columns // size, columns - 1)
    index = r * columns + c
    return index if index < count else None


@lru_cache(maxsize=8)
def _font(pixels: int) -> ImageFont.FreeTypeFont:
    # DejaVu Sans Mono (matplotlib ships it) has the marks that show spaces and newlines.
    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans Mono"))
    return ImageFont.truetype(path, pixels)


def token_cells(texts: Sequence[str], colours: np.ndarray, size: int) -> np.ndarray:
    """``(size, size, 4)`` RGBA: token ``i``'s text on a cell of ``colours[i]`` (RGB,
    ``uint8``), in :func:`token_layout`'s order; text too long for its cell ends in "…"."""
    rows, columns = token_layout(len(texts))
    picture = Image.new("RGB", (size, size), (236, 236, 236))
    draw = ImageDraw.Draw(picture)
    height, width = size / rows, size / columns
    font = _font(max(8, min(16, int(height * 0.45))))
    for index, (text, colour) in enumerate(zip(texts, colours, strict=True)):
        r, c = divmod(index, columns)
        box = (c * width + _GAP / 2, r * height + _GAP / 2, (c + 1) * width - _GAP / 2,
               (r + 1) * height - _GAP / 2)  # fmt: skip
        fill = tuple(int(v) for v in colour[:3])
        draw.rectangle(box, fill=fill, outline=(170, 170, 170))
        ink = (0, 0, 0) if dark_ink(fill) else (255, 255, 255)
        shown = fit_text(draw, text, box[2] - box[0] - 2, font)
        draw.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), shown, fill=ink, font=font,
                  anchor="mm")  # fmt: skip
    rgba = np.empty((size, size, 4), dtype=np.uint8)
    rgba[..., :3] = np.asarray(picture)
    rgba[..., 3] = 255
    return rgba


def dark_ink(rgb: Sequence[int]) -> bool:
    """Whether black text reads on the ``uint8`` colour ``rgb`` (else white), by luminance."""
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2] > 128
