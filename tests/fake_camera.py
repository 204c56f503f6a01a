"""A clip for Chromium's fake camera (``--use-file-for-fake-video-capture``): pictures as
YUV4MPEG2 4:2:0 frames, which Chromium loops."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def yuv420(rgb: np.ndarray) -> bytes:
    """One ``(H, W, 3)`` uint8 picture (even sides) as full-range BT.601 Y, U and V planes,
    the chroma averaged over 2 x 2 blocks."""
    values = rgb.astype(np.float64)
    r, g, b = values[..., 0], values[..., 1], values[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    height, width = y.shape

    def quarter(plane):
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    planes = [y, quarter(u), quarter(v)]
    return b"".join(np.clip(np.round(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def write_clip(path: Path, pictures: list[np.ndarray], frames_each: int, fps: int = 10) -> Path:
    """``pictures`` (same even size) one after another, ``frames_each`` frames each, at
    ``fps`` frames a second."""
    height, width = pictures[0].shape[:2]
    with open(path, "wb") as clip:
        clip.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for picture in pictures:
            frame = yuv420(picture)
            for _ in range(frames_each):
                clip.write(b"FRAME\n" + frame)
    return path
