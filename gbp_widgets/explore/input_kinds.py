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
from gbp_widgets.explore.token_grids import ranked_units
from gbp_widgets.explore.view import Cut, panel_position
from gbp_widgets.pictures import drawing, render
from gbp_widgets.pictures.colour_keys import ColourKey, display_key, token_key
from gbp_widgets.pictures.figures import Labelled
from gbp_widgets.pictures.tokens import BLANK, score_colours, token_at, token_cells


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
    Explorer's ``feature_names``) and ``ids`` (its items are integer token ids, told
    apart from a table of the same rank by their dtype).
    """

    kind = ""
    rank = 0
    shape_words = ""
    displays: tuple[str, ...] = tuple(DISPLAY_LABELS)
    shows: tuple[str, ...] = ()
    photo = False
    named = False
    ids = False
    # The display buttons' words where the kind's differ from the pictures'.
    display_labels: dict[str, str] = {}
    # What the first dimension of a site's values is, in words: the channels, or for
    # token ids (sites of (T, H) units) the tokens.
    site_rows = "channel"

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

    def attribution_values(self, attribution: np.ndarray, embedded=None) -> np.ndarray:
        """One item's attribution as the kind draws it (the input's shape); ``embedded``:
        what the attribution was taken at, for token ids (their embedding's output)."""
        return attribution.reshape(self.shape)

    def spot_at_site(self, row: int | None) -> Spot | None:
        """The input element a site panel's ``row`` of units stands for, where its rows are
        the input's elements (``None``: they are not; channels are no input element)."""
        return None

    def unit_grid(self, shape: tuple[int, ...]) -> bool:
        """Whether a site of output ``shape`` ``(C, *spatial)`` is drawn as a grid of rows
        by the units that pass the most (none is, but token ids' ``(T, H)`` sites)."""
        return False

    def site_units(self, product: np.ndarray, count: int) -> np.ndarray | None:
        """The units a site's planes show, in order, for its product mask ``(C, *spatial)``
        (``None``: every unit where it is); ``count``: how many a grid of units shows."""
        return ranked_units(product, count) if self.unit_grid(product.shape) else None

    def grid_width(self, shape: tuple[int, ...]) -> int:
        """How many channels a site of output ``shape`` offers its grid (a unit grid: the
        units of every row, not the rows)."""
        return shape[-1] if self.unit_grid(shape) else shape[0]

    def attribution_at(self, attribution: np.ndarray, spot: Spot) -> np.ndarray:
        """The attribution the read-out gives at ``spot``."""
        return attribution[spot.index]

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


class TokenKind(InputKind):
    """``(T,)`` token ids: a cell per token with its text. The attribution is taken at the
    embedding, ``(T, D)``; each token's cell is coloured by its score: the attribution
    times the embedded vector summed over ``D`` (``gradient``: gradient x input, signed,
    blue to red; the plain sum is no score here, being 0 wherever every path from the
    embedding passes a LayerNorm, as in pre-norm transformers) or its L2 norm
    (``saliency``). ``words`` turns ids into the texts shown (the tokenizer's, spaces and
    newlines made visible); the "photo" of an item is its ids. A site of ``(T, H)``
    units is drawn as a token x unit grid of the units that pass the most."""

    kind, rank, shape_words, ids = "tokens", 1, "(N, T) integer token ids", True
    displays = ("gradient", "saliency")
    display_labels = {"gradient": "signed (x input)", "saliency": "magnitude (norm)"}
    site_rows = "token"

    def __init__(self, shape, feature_names=None, words=None):
        super().__init__(shape)
        self.words = words or (lambda ids: [str(int(i)) for i in ids])

    def attribution_values(self, attribution, embedded=None):
        """``(T, 2)``: each token's attribution times its embedded vector, summed, and the
        attribution's L2 norm."""
        vectors = attribution.reshape(self.shape[0], -1).astype(np.float64)
        inputs = np.asarray(embedded, dtype=np.float64).reshape(vectors.shape)
        return np.stack([(vectors * inputs).sum(axis=1), np.sqrt((vectors**2).sum(axis=1))], 1)

    @staticmethod
    def scores(attribution: np.ndarray, display: str) -> np.ndarray:
        """``(T,)``: each token's score under ``display``."""
        return attribution[:, 1 if display == "saliency" else 0]

    def attribution_at(self, attribution, spot):
        return attribution[spot.index[0]]

    def unit_grid(self, shape):
        return len(shape) == 2

    def spot_at_site(self, row):
        return None if row is None else Spot((row,), f"token {row}")

    def input_picture(self, values, picture, size, cut):
        white = np.tile(np.array(BLANK, dtype=np.uint8), (len(picture), 1))
        return token_cells(self.words(picture), white, size)

    def attribution_picture(self, attribution, display, percentile, picture, size, cut):
        colours = score_colours(
            self.scores(attribution, display), display != "saliency", percentile
        )
        return token_cells(self.words(picture), colours, size)

    def attribution_key(self, display, percentile):
        return token_key(display != "saliency", percentile)

    def locate(self, row, column, size, cut):
        token = token_at(row, column, size, self.shape[0])
        token = self.shape[0] - 1 if token is None else token
        return Spot((token,), f"token {token}")

    def spot_readout(self, spot, photo):
        token_id = int(photo[spot.index[0]])
        return {"token": self.words([token_id])[0], "token_id": token_id}


KINDS: dict[str, type[InputKind]] = {
    kind.kind: kind for kind in (ImageKind, SignalKind, VolumeKind, TableKind, TokenKind)
}
"""Every kind of input, by name: what ``Explorer(kind=...)`` takes."""

INPUT_KINDS: dict[str, tuple[str, str]] = {
    name: (name, kind.shape_words) for name, kind in KINDS.items()
}
"""Input kind -> (label, the shape of the inputs it shows)."""


def kind_for(shape: tuple[int, ...]) -> str | None:
    """The kind whose float items have ``shape`` (no batch dimension), or ``None``."""
    return next((name for name, k in KINDS.items() if k.rank == len(shape) and not k.ids), None)


def shown_kinds() -> str:
    """Every kind with the inputs it shows, for a message."""
    return ", ".join(f"{name}s {kind.shape_words}" for name, kind in KINDS.items())


def input_kind(
    shape: tuple[int, ...], kind: str | None = None, feature_names=None, words=None
) -> InputKind:
    """The kind that draws items of ``shape``: ``kind`` when given (refused, naming the
    kinds there are, when it cannot), else the one of the shape's rank; ``feature_names``
    go to a kind whose elements are named. ``words`` (ids -> texts) is given for token
    ids, and only then: they are drawn as tokens whatever their rank says."""
    if words is not None:
        if kind not in (None, TokenKind.kind) or len(shape) != TokenKind.rank:
            raise ValueError(
                f"token ids of item shape {shape} are shown as tokens, (N, T), not {kind!r}"
            )
        return TokenKind(shape, words=words)
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
