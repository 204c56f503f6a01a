"""One class per kind of input: what its items are, how they are drawn, and how a pointer
position goes back to an element. A new kind of input is one class here, registered in
:data:`KINDS`; nothing else in the package asks which kind an input is.

A kind knows nothing of models or widgets. It gets one item's arrays without the batch
dimension: an image ``(C, H, W)``, a signal ``(C, L)``, a volume ``(C, D, H, W)`` or a
table row ``(F,)``, and draws them into square panels of ``size`` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gbp_widgets.explore.names import DISPLAY_LABELS
from gbp_widgets.explore.view import Cut, panel_position
from gbp_widgets.pictures import drawing, render
from gbp_widgets.pictures.colour_keys import ColourKey, display_key
from gbp_widgets.pictures.figures import Labelled


@dataclass(frozen=True)
class Spot:
    """A place in one item's input: ``index`` into its array, ``words`` for a person."""

    index: tuple
    words: str


class InputKind:
    """The pictures of one kind of input, for items of ``shape`` (no batch dimension).

    Subclasses set ``kind`` (its name), ``rank`` (the item's dimensions), ``shape_words``
    (the batch's shape, for messages), ``displays``, ``shows`` (other kinds whose items
    it can show, reshaped by :meth:`reshaped`), ``photo`` (each item is one picture:
    photos, uploads, the webcam and Grad-CAM apply) and ``named`` (its elements take the
    Explorer's ``feature_names``).
    """

    kind = ""
    rank = 0
    shape_words = ""
    displays: tuple[str, ...] = tuple(DISPLAY_LABELS)
    shows: tuple[str, ...] = ()
    photo = False
    named = False

    def __init__(self, shape: tuple[int, ...], feature_names: tuple[str, ...] | None = None):
        self.shape = tuple(shape)
        self.feature_names = feature_names

    @staticmethod
    def reshaped(shape: tuple[int, ...]) -> tuple[int, ...]:
        """An item of another kind in :attr:`shows`, as this kind draws it."""
        return shape

    @property
    def slices(self) -> tuple[int, ...]:
        """Extent of each axis a volume can be cut along (empty for other kinds)."""
        return ()

    def site_cut(self, cut: Cut) -> Cut | None:
        """Where the sites of a model on this input are cut: only volumes are."""
        return None

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

    def spot_readout(self, spot: Spot, photo: np.ndarray) -> dict[str, object]:
        """What the read-out adds at ``spot`` besides the input's values (none)."""
        return {}

    def attribution_key(self, display: str, percentile: float) -> ColourKey | None:
        """How to read the attribution panel's colours; ``None`` where it is drawn with
        axes of its own (curves, bars)."""
        return None

    def figure_panels(
        self,
        values: np.ndarray,
        attribution: np.ndarray,
        display: str,
        percentile: float,
        size: int,
    ) -> dict[str, Labelled]:
        """Panels a figure draws in its own way (none: the panels' pictures as they are)."""
        return {}


class ImageKind(InputKind):
    """``(C, H, W)``: the photo, and the attribution as a picture of the same size."""

    kind, rank, shape_words, photo = "image", 3, "(N, 1 or 3, H, W)", True

    def input_picture(self, values, picture, size, cut):
        return render.fit(render.to_rgba(picture), size)

    def attribution_picture(self, attribution, display, percentile, picture, size, cut):
        return render.fit(render.display(attribution, display, picture, percentile), size)

    def attribution_key(self, display, percentile):
        return display_key(display, percentile, channels=self.shape[0])

    def locate(self, row, column, size, cut):
        y, x = panel_position(self.shape[1:], row, column, size)
        return Spot((slice(None), y, x), f"pixel (y={y}, x={x})")

    def spot_readout(self, spot, photo):
        y, x = spot.index[1:]
        return {"y": y, "x": x, "rgb": tuple(int(v) for v in photo[y, x])}


class VolumeKind(ImageKind):
    """``(C, D, H, W)``: one slice through the volume, drawn as an image."""

    kind, rank, shape_words, photo = "volume", 4, "(N, C, D, H, W)", False

    @property
    def slices(self) -> tuple[int, ...]:
        return self.shape[1:]

    def site_cut(self, cut: Cut) -> Cut | None:
        return cut

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

    def spot_readout(self, spot, photo):
        return {}


class SignalKind(InputKind):
    """``(C, L)``: curves over position, one per channel, on a shared axis; a table row
    shown as one curve."""

    kind, rank, shape_words = "signal", 2, "(N, C, L)"
    displays = ("gradient", "saliency", "positive", "negative")
    shows = ("table",)

    @staticmethod
    def reshaped(shape):
        return (1, shape[0])

    def input_picture(self, values, picture, size, cut):
        return drawing.curves(values, size)

    def attribution_picture(self, attribution, display, percentile, picture, size, cut):
        return drawing.curves(drawing.signed(attribution, display), size, percentile)

    def locate(self, row, column, size, cut):
        position = drawing.column_position(column, self.shape[1], size)
        return Spot((slice(None), position), f"position {position}")


class TableKind(InputKind):
    """``(F,)``: a bar per feature, labelled with the feature names; a signal shown as the
    bars of its values."""

    kind, rank, shape_words, named = "table", 1, "(N, F)", True
    displays = ("gradient", "saliency", "positive", "negative")
    shows = ("signal",)

    @staticmethod
    def reshaped(shape):
        return (int(np.prod(shape)),)

    def names(self) -> list[str]:
        count = self.shape[0]
        return list(self.feature_names or [f"feature {f}" for f in range(count)])

    def input_picture(self, values, picture, size, cut):
        return drawing.bars(values, size, self.names(), colour=drawing.NEUTRAL)

    def attribution_picture(self, attribution, display, percentile, picture, size, cut):
        return drawing.bars(drawing.signed(attribution, display), size, self.names(), percentile)

    def figure_panels(self, values, attribution, display, percentile, size):
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


KINDS: dict[str, type[InputKind]] = {
    kind.kind: kind for kind in (ImageKind, SignalKind, VolumeKind, TableKind)
}
"""Every kind of input, by name: what ``Explorer(kind=...)`` takes."""

INPUT_KINDS: dict[str, tuple[str, str]] = {
    name: (name, kind.shape_words) for name, kind in KINDS.items()
}
"""Input kind -> (label, the shape of the inputs it shows)."""


def kind_for(shape: tuple[int, ...]) -> str | None:
    """The kind whose items have ``shape`` (no batch dimension), or ``None``."""
    return next((name for name, kind in KINDS.items() if kind.rank == len(shape)), None)


def shown_kinds() -> str:
    """Every kind with the inputs it shows, for a message."""
    return ", ".join(f"{name}s {kind.shape_words}" for name, kind in KINDS.items())


def input_kind(shape: tuple[int, ...], kind: str | None = None, feature_names=None) -> InputKind:
    """The kind that draws items of ``shape``: ``kind`` when given (refused, naming the
    kinds there are, when it cannot), else the one of the shape's rank; ``feature_names``
    go to a kind whose elements are named."""
    own = kind_for(shape)
    if own is None:
        raise ValueError(
            f"an input of item shape {shape} is none the Explorer shows: {shown_kinds()}"
        )
    chosen = kind or own
    if chosen != own:
        if chosen not in KINDS or own not in KINDS[chosen].shows:
            allowed = (own, *(name for name, k in KINDS.items() if own in k.shows))
            names = ", ".join(repr(k) for k in allowed)
            raise ValueError(
                f"an input of item shape {shape} cannot be shown as {chosen!r}: use {names}"
            )
        shape = KINDS[chosen].reshaped(shape)
    names = feature_names if KINDS[chosen].named else None
    if names is not None and len(names) != shape[0]:
        raise ValueError(
            f"{len(names)} feature names given for {shape[0]} features: give one per feature"
        )
    return KINDS[chosen](shape, names)
