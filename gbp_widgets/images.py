"""Pictures in: the bundled sample photos and the user's own files, always as RGB."""

from __future__ import annotations

import io
import os
import warnings
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SAMPLE_NAMES: tuple[str, ...] = (
    "chelsea",
    "coffee",
    "astronaut",
    "rocket",
    "camera",
    "coins",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
)
"""The photos ``sample_image`` gives by name: scikit-image ships them inside its package, so
they load offline."""

# Pillow's own decompression-bomb threshold (about 89.5 megapixels).
MAX_PIXELS = 89_478_485

ImageSource = str | os.PathLike | bytes | bytearray | BinaryIO


class ImageError(ValueError):
    """The file or bytes given could not be turned into a picture."""


def sample_image(name: str = "chelsea") -> Image.Image:
    """One of :data:`SAMPLE_NAMES` as an RGB ``PIL.Image`` (grayscale ones are expanded)."""
    if name not in SAMPLE_NAMES:
        raise ValueError(f"unknown sample image {name!r}: choose one of {', '.join(SAMPLE_NAMES)}")
    from skimage import data

    return _to_rgb(Image.fromarray(getattr(data, name)()))


def load_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Read a picture from a path, bytes or a binary file object, as RGB.

    Grayscale, palette, CMYK, transparent and 16-bit images are converted
    (transparency is composited on white; 16-bit and float values are scaled
    to 8 bits, not clipped) and camera rotation (EXIF) is applied. JPEGs
    larger than ``max_pixels`` are decoded at a reduced scale; other formats
    that large are refused, since decoding them could exhaust memory.
    """
    stream = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray)) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream)
            _shrink_or_refuse(image, max_pixels)
            image.load()
    except Image.DecompressionBombError as err:
        raise ImageError(_too_large_message(None, max_pixels)) from err
    except UnidentifiedImageError as err:
        raise ImageError(
            f"{_describe(source)} is not an image file Pillow can read; use a PNG, JPEG, "
            "BMP, GIF, TIFF or WebP picture"
        ) from err
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"{_describe(source)} does not exist, and it is not a sample image either: give the "
            f"path of a picture, or one of the samples {', '.join(SAMPLE_NAMES)}"
        ) from err
    except OSError as err:
        raise ImageError(
            f"{_describe(source)} could not be decoded ({err}); is it truncated?"
        ) from err
    return _to_rgb(ImageOps.exif_transpose(image))


def _shrink_or_refuse(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width * height <= max_pixels:
        return
    if image.format == "JPEG":
        # draft() picks the largest 1/2, 1/4 or 1/8 reduction that stays at least
        # the requested size, i.e. under twice it per side: ask for half the limit.
        shrink = 2 * (width * height / max_pixels) ** 0.5
        image.draft("RGB", (int(width / shrink), int(height / shrink)))
        if image.size[0] * image.size[1] <= max_pixels:
            return
    raise ImageError(_too_large_message(image.size, max_pixels))


def _too_large_message(size: tuple[int, int] | None, max_pixels: int) -> str:
    what = f"{size[0]} x {size[1]} pixels" if size else "more pixels than is safe to decode"
    return (
        f"the image is too large ({what}; the limit is {max_pixels:,} pixels). "
        "Downscale it first, save it as JPEG (decoded at reduced size), or raise max_pixels."
    )


def _describe(source: ImageSource) -> str:
    if isinstance(source, (bytes, bytearray)):
        return f"the {len(source)} bytes given"
    if isinstance(source, (str, os.PathLike)):
        return repr(os.fspath(source))
    return "the file object given"


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = Image.fromarray(_to_uint8(np.asarray(image), image.mode.startswith("I;16")))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _to_uint8(values: np.ndarray, sixteen_bit: bool) -> np.ndarray:
    """Scale wide pixel values to 0..255: 16-bit data by 65535, else by the range they use."""
    values = values.astype(np.float64)
    top = 65535.0 if sixteen_bit else float(values.max(initial=0.0))
    if top <= 1.0:
        scale = 255.0
    elif top <= 255.0:
        scale = 1.0
    elif top <= 65535.0:
        scale = 255.0 / 65535.0
    else:
        scale = 255.0 / top
    return np.clip(np.round(values * scale), 0, 255).astype(np.uint8)
