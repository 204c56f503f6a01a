"""Where the items of a data set come from: a torch ``Dataset``, a ``DataLoader`` or a folder
of pictures, each item numbered by its position in ``data``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, SequentialSampler

from gbp_widgets.images import load_image

# The largest side of a stored thumbnail (the picture, the saliency map), in pixels.
THUMBNAIL = 112
PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass
class Item:
    """One item: ``input`` is ``None`` when it could not be read (``skipped`` says why).
    ``picture`` is a thumbnail of the file as seen, before preprocessing (folders only)."""

    index: int
    input: torch.Tensor | None
    label: int | None = None
    label_name: str | None = None
    path: str | None = None
    skipped: str | None = None
    picture: object = None


class PictureFolder:
    """The pictures under ``root``, sorted by path. Class sub-folders label them as
    torchvision's ``ImageFolder`` does (sorted folder names, index from 0); a flat folder
    gives no labels. Pictures are read only when asked for."""

    def __init__(self, root: str | Path, preprocess: Callable[[object], torch.Tensor]):
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"{str(root)!r} is not a folder: pass a folder of pictures")
        self.preprocess = preprocess
        self.classes = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        folders = [self.root / name for name in self.classes] or [self.root]
        self.files: list[tuple[Path, int | None]] = [
            (path, index if self.classes else None)
            for index, folder in enumerate(folders)
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.suffix.lower() in PICTURE_SUFFIXES
        ]
        if not self.files:
            raise ValueError(
                f"no pictures in {str(root)!r}: looked for {', '.join(PICTURE_SUFFIXES)}"
            )

    def __len__(self) -> int:
        return len(self.files)

    def item(self, index: int) -> Item:
        path, label = self.files[index]
        name = self.classes[label] if label is not None else None
        try:
            picture = load_image(path)
            tensor = self.preprocess(picture)
        except Exception as err:  # noqa: BLE001 - an unreadable file is a row, not a crash
            return Item(index, None, label, name, str(path), f"{type(err).__name__}: {err}")
        # Only a thumbnail is kept: a batch of full-size photos would hold gigabytes. Where
        # the preprocessing says how it crops, the thumbnail is what the model saw, so it
        # lines up with the map.
        seen = self.preprocess.crop(picture) if hasattr(self.preprocess, "crop") else picture
        thumbnail = seen.convert("RGB")
        thumbnail.thumbnail((THUMBNAIL, THUMBNAIL))
        return Item(index, tensor, label, name, str(path), picture=thumbnail)


def data_length(data: object) -> int:
    """How many items ``data`` holds; refuses a shuffling ``DataLoader``, whose positions
    would differ from run to run (so a resumed job could not know what it has done)."""
    if isinstance(data, DataLoader):
        if not isinstance(data.sampler, SequentialSampler):
            raise ValueError(
                "this DataLoader shuffles (or samples): items would get other positions on "
                "the next run, so the job could not resume. Pass DataLoader(..., shuffle=False) "
                "or the Dataset itself"
            )
        return len(data.dataset)
    if isinstance(data, (Dataset, PictureFolder)) or hasattr(data, "__len__"):
        return len(data)
    raise TypeError(
        f"data is a {type(data).__name__}: pass a torch Dataset, a DataLoader or a folder "
        "of pictures"
    )


def items(data: object, skip: set[int]) -> Iterator[Item]:
    """Every item of ``data`` in order, except the positions in ``skip``."""
    if isinstance(data, DataLoader):
        position = 0
        for batch in data:
            inputs, labels = _split(batch)
            for i in range(len(inputs)):
                if position not in skip:
                    yield Item(position, inputs[i], _label(labels, i))
                position += 1
        return
    yield from (item_at(data, i) for i in range(len(data)) if i not in skip)


def item_at(data: object, index: int) -> Item:
    """The item at position ``index`` of ``data``, read on its own (as a Ray worker does).
    A ``DataLoader``'s items are read from its dataset: its sampler is sequential
    (:func:`data_length`), so positions are the same."""
    if isinstance(data, PictureFolder):
        return data.item(index)
    if isinstance(data, DataLoader):
        data = data.dataset
    inputs, label = _split(data[index])
    return Item(index, inputs, None if label is None else int(label))


def _split(entry: object) -> tuple[torch.Tensor, object]:
    if isinstance(entry, (tuple, list)):
        if len(entry) != 2:
            raise ValueError(
                f"an item of data has {len(entry)} parts: give `input` or `(input, label)`"
            )
        return torch.as_tensor(entry[0]), entry[1]
    return torch.as_tensor(entry), None


def _label(labels: object, i: int) -> int | None:
    return None if labels is None else int(torch.as_tensor(labels)[i])
