"""Attributions and masks to ``uint8`` RGBA pictures ``(H, W, 4)``.

NumPy and Matplotlib only: no torch import, no widgets. Inputs may be
NumPy arrays or CPU/CUDA torch tensors (anything with ``.detach()`` is moved
to the CPU first). Attributions are ``(C, H, W)``; masks are ``(C, H, W)`` or
``(H, W)`` booleans. Every picture is opaque RGBA, so canvases that compress
RGB lossily get the exact pixels.
"""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

DISPLAY_MODES: tuple[str, ...] = ("gradient", "saliency", "positive", "negative", "overlay")


def as_array(values: object) -> np.ndarray:
    """A NumPy copy of an array or tensor (tensors are detached and moved to the CPU)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def robust_spread(values: np.ndarray, percentile: float = 99.0) -> float:
    """The ``percentile`` of ``|values|``: a scale that a few outliers cannot dominate.

    Returns 1.0 for an all-zero input, so dividing by it is always safe.
    """
    magnitude = np.abs(values[np.isfinite(values)])
    if magnitude.size == 0:
        return 1.0
    spread = float(np.percentile(magnitude, percentile))
    if spread == 0.0:
        spread = float(magnitude.max())
    return spread if spread > 0.0 else 1.0


def gradient_image(attribution: object, percentile: float = 99.0) -> np.ndarray:
    """The signed RGB "gradient image" of the papers, from a ``(3, H, W)`` attribution.

    Zero maps to mid-grey; values are divided by the ``percentile`` of their
    absolute values and clipped, so +spread is full brightness and -spread black.
    Attributions with another channel count are shown by their channel mean.
    """
    values = _chw(attribution)
    if values.shape[0] != 3:
        values = np.repeat(values.mean(axis=0, keepdims=True), 3, axis=0)
    scaled = np.clip(values / robust_spread(values, percentile), -1.0, 1.0)
    return _rgba(np.transpose(0.5 + 0.5 * scaled, (1, 2, 0)))


def saliency(attribution: object, percentile: float = 99.0, sign: str = "abs") -> np.ndarray:
    """A grayscale saliency picture: the max over channels of ``|a|``, ``max(a, 0)``
    or ``max(-a, 0)`` (``sign`` = ``"abs"``, ``"positive"``, ``"negative"``),
    divided by its ``percentile`` and clipped to [0, 1]."""
    return _gray(saliency_map(attribution, percentile, sign))


def saliency_map(attribution: object, percentile: float = 99.0, sign: str = "abs") -> np.ndarray:
    """The ``(H, W)`` float map in [0, 1] behind :func:`saliency`."""
    values = _chw(attribution)
    if sign == "abs":
        values = np.abs(values)
    elif sign == "positive":
        values = np.maximum(values, 0.0)
    elif sign == "negative":
        values = np.maximum(-values, 0.0)
    else:
        raise ValueError(f"sign must be 'abs', 'positive' or 'negative', got {sign!r}")
    per_pixel = values.max(axis=0)
    return np.clip(per_pixel / robust_spread(per_pixel, percentile), 0.0, 1.0)


def overlay(
    image: object,
    attribution: object,
    percentile: float = 99.0,
    alpha: float = 0.6,
    colormap: str = "inferno",
) -> np.ndarray:
    """The saliency of ``attribution`` as a heat map blended over ``image``.

    ``image`` is ``(H, W, 3)`` ``uint8`` or floats in [0, 1]; ``alpha`` is the
    heat map's weight where saliency is 1 (it fades to 0 where saliency is 0).
    """
    from matplotlib import colormaps  # only here, so importing the package stays light

    base = _image_float(image)
    heat = saliency_map(attribution, percentile)
    colours = colormaps[colormap](heat)[..., :3]
    weight = alpha * heat[..., None]
    return _rgba(base * (1.0 - weight) + colours * weight)


def display(
    attribution: object, mode: str, image: object | None = None, percentile: float = 99.0
) -> np.ndarray:
    """Render ``attribution`` in one of :data:`DISPLAY_MODES` (``overlay`` needs ``image``)."""
    if mode == "gradient":
        return gradient_image(attribution, percentile)
    if mode in ("saliency", "positive", "negative"):
        return saliency(attribution, percentile, "abs" if mode == "saliency" else mode)
    if mode == "overlay":
        if image is None:
            raise ValueError("the overlay display needs the input image")
        return overlay(image, attribution, percentile)
    raise ValueError(f"unknown display mode {mode!r}: use one of {', '.join(DISPLAY_MODES)}")


def mask_picture(mask: object, channel: int | None = None) -> np.ndarray:
    """A boolean mask as a picture: white where on, black where off.

    ``mask`` is ``(C, H, W)`` (or ``(H, W)``). With ``channel`` that channel is
    shown; without it, each pixel's grey level is the fraction of channels on.
    """
    values = as_array(mask).astype(bool)
    if values.ndim == 2:
        values = values[None]
    if values.ndim != 3:
        raise ValueError(f"mask must be (C, H, W) or (H, W), got shape {values.shape}")
    if channel is not None:
        if not 0 <= channel < values.shape[0]:
            raise ValueError(f"channel {channel} is out of range for {values.shape[0]} channels")
        return _gray(values[channel].astype(np.float64))
    return _gray(values.mean(axis=0))


def activation_picture(values: object, channel: int | None = None) -> np.ndarray:
    """A site's rectified output as a heat map (inferno), black at 0, brightest at its peak.

    ``values`` is ``(C, H, W)`` (or ``(H, W)``), non-negative. With ``channel``
    that channel is shown; without it, the mean over channels. Each picture is
    scaled to its own maximum.
    """
    from matplotlib import colormaps  # only here, so importing the package stays light

    array = as_array(values).astype(np.float64)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"values must be (C, H, W) or (H, W), got shape {array.shape}")
    if channel is not None and not 0 <= channel < array.shape[0]:
        raise ValueError(f"channel {channel} is out of range for {array.shape[0]} channels")
    shown = array[channel] if channel is not None else array.mean(axis=0)
    peak = shown.max()
    scaled = shown / peak if peak > 0 else np.zeros_like(shown)
    return (colormaps["inferno"](scaled) * 255).round().astype(np.uint8)


def channel_grid(
    maps: object, columns: int | None = None, gap: int = 1, normalize: bool = True
) -> np.ndarray:
    """Tile ``(C, H, W)`` maps into one grayscale picture, channel 0 at the top left.

    Boolean maps are shown as they are; float maps are scaled per channel to
    [0, 1] by their own minimum and maximum when ``normalize``. ``gap`` pixels
    of mid-grey separate the tiles; ``columns`` defaults to a near-square grid.
    """
    values = as_array(maps)
    if values.ndim != 3:
        raise ValueError(f"maps must be (C, H, W), got shape {values.shape}")
    count, height, width = values.shape
    boolean = values.dtype == bool
    values = values.astype(np.float64)
    if normalize and not boolean:
        low = values.min(axis=(1, 2), keepdims=True)
        span = values.max(axis=(1, 2), keepdims=True) - low
        values = np.where(span > 0, (values - low) / np.where(span > 0, span, 1.0), 0.0)
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.full((rows * height + (rows - 1) * gap, columns * width + (columns - 1) * gap), 0.5)
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        grid[top : top + height, left : left + width] = values[index]
    return _gray(grid)


def gray_picture(values: object) -> np.ndarray:
    """An ``(H, W)`` map of values in [0, 1] as grey levels: black 0, white 1."""
    return _gray(np.clip(as_array(values).astype(np.float64), 0.0, 1.0))


def to_rgba(image: object) -> np.ndarray:
    """An ``(H, W, 3)`` picture (``uint8``, or floats in [0, 1]) as opaque ``uint8`` RGBA."""
    return _rgba(_image_float(image))


def png_bytes(picture: np.ndarray) -> bytes:
    """An ``(H, W, 4)`` ``uint8`` picture as a lossless PNG, written for speed: RGB when
    every pixel is opaque, rows unfiltered, zlib level 1 with runs only.

    Pillow filters every row and searches for repeats: four times as long on a noisy
    224 x 224 gradient map (about 10 ms against 2.6), for a file a third larger there;
    and the pictures ahead, most never shown, are made by the dozen after every change.
    Smooth maps come out larger than Pillow's (about 110 KB against 70 for a saliency
    map), which a canvas on the same machine does not notice.
    """
    height, width = picture.shape[:2]
    opaque = bool((picture[..., 3] == 255).all())
    pixels = picture[..., :3] if opaque else picture
    # Each row starts with its filter type: 0, none.
    rows = np.zeros((height, 1 + width * pixels.shape[2]), np.uint8)
    rows[:, 1:] = pixels.reshape(height, -1)
    deflate = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS, 9, zlib.Z_RLE)
    data = deflate.compress(rows.data) + deflate.flush()
    colour = 2 if opaque else 6  # PNG colour types: RGB, RGBA
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return b"".join(
        (_PNG_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", data), _chunk(b"IEND", b""))
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC of type and data."""
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def fit(picture: np.ndarray, size: int) -> np.ndarray:
    """Scale a picture to ``size`` x ``size`` by nearest neighbours: each source
    pixel becomes a crisp block (exact blocks when ``size`` is a multiple)."""
    if picture.shape[:2] == (size, size):
        return picture
    rows = (np.arange(size) * picture.shape[0]) // size
    columns = (np.arange(size) * picture.shape[1]) // size
    return np.ascontiguousarray(picture[rows][:, columns])


def _chw(attribution: object) -> np.ndarray:
    values = as_array(attribution).astype(np.float64)
    if values.ndim == 4 and values.shape[0] == 1:
        values = values[0]
    if values.ndim == 2:
        values = values[None]
    if values.ndim != 3:
        raise ValueError(
            f"attribution must be (C, H, W) (or (1, C, H, W)); got shape {values.shape}"
        )
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


def _image_float(image: object) -> np.ndarray:
    values = as_array(image)
    if values.ndim != 3 or values.shape[-1] not in (3, 4):
        raise ValueError(f"image must be (H, W, 3) or (H, W, 4), got shape {values.shape}")
    values = values[..., :3]
    if values.dtype == np.uint8:
        return values.astype(np.float64) / 255.0
    return np.clip(values.astype(np.float64), 0.0, 1.0)


def _gray(values: np.ndarray) -> np.ndarray:
    return _rgba(np.repeat(values[..., None], 3, axis=-1))


def _rgba(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` floats in [0, 1] to opaque ``(H, W, 4)`` ``uint8``."""
    out = np.empty(rgb.shape[:2] + (4,), dtype=np.uint8)
    out[..., :3] = np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)
    out[..., 3] = 255
    return out
