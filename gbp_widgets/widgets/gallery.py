"""The Gallery: a results folder as pages of thumbnails, filtered and sorted, with the pass
fractions per class, and a click that opens an item in the Explorer. Traits and wiring only:
what is selected comes from :mod:`gbp_widgets.gallery.catalogue`, the page picture from
:mod:`gbp_widgets.gallery.contact_sheet`, the item's Explorer arguments from
:mod:`gbp_widgets.gallery.reopen`."""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import traitlets
from ipycanvas import Canvas
from torch import nn

from gbp_widgets.dataset.results import DatasetResults
from gbp_widgets.gallery.catalogue import ALL, CORRECTNESS, SORTS, Catalogue, Filters, Tile
from gbp_widgets.gallery.contact_sheet import SheetLayout, sheet
from gbp_widgets.gallery.reopen import ItemOpener
from gbp_widgets.pictures.figures import pass_fraction_figure
from gbp_widgets.widgets.binding import bind
from gbp_widgets.widgets.ipycanvas_drawing import drawing, put_picture
from gbp_widgets.widgets.quiet import Quiet

FILTER_TRAITS = ("true_class", "predicted_class", "correctness", "confidence", "sort")
CAPTION_COLOURS = {True: "#1e823c", False: "#c81e2d", None: "#444444"}


class Gallery(widgets.VBox):
    """Pages of an ``explain_dataset`` results folder: each item's picture beside its
    saliency map, filtered by true class, predicted class, correct or wrong and a confidence
    range, sorted, with the share of units let through at every site averaged per class
    over what is filtered. A click on a tile opens that item in :attr:`explorer`.

    ``results``: a :class:`DatasetResults` or its folder. ``model``: the module the job ran,
    a model name, or ``None`` for the default model; with ``data`` (the ``Dataset`` the
    rows came from) or ``preprocess`` (for a folder of pictures) items can be opened.
    Only the small columns are read when it opens; pictures are read page by page.
    """

    true_class = traitlets.Int(ALL)
    predicted_class = traitlets.Int(ALL)
    correctness = traitlets.Unicode("all")
    confidence = traitlets.Tuple(traitlets.Float(), traitlets.Float(), default_value=(0.0, 1.0))
    sort = traitlets.Unicode("position")
    page = traitlets.Int(0)
    item = traitlets.Int(None, allow_none=True)
    message = traitlets.Unicode("")

    def __init__(
        self,
        results: DatasetResults | str | Path,
        model: nn.Module | str | None = None,
        *,
        data: object = None,
        preprocess: Callable | None = None,
        classes: list[str] | None = None,
        columns: int = 4,
        rows: int = 3,
    ) -> None:
        super().__init__()
        if not isinstance(results, DatasetResults):
            results = DatasetResults(results)
        self.results = results
        self.catalogue = Catalogue(results, classes)
        self.opener = ItemOpener(results, model, data, preprocess, classes)
        self.layout_of_page = SheetLayout(columns, rows)
        self.explorer = None
        self.selection = self.catalogue.select(Filters())
        self._build()
        self._show_selection()

    # ---- what is selected

    def filters(self) -> Filters:
        return Filters(**{name: getattr(self, name) for name in FILTER_TRAITS})

    @traitlets.validate(*FILTER_TRAITS)
    def _valid_filter(self, proposal):
        value = proposal["value"]
        if proposal["trait"].name == "confidence":
            value = (float(value[0]), float(value[1]))
        try:
            self.catalogue.check(self.filters().but(**{proposal["trait"].name: value}))
        except ValueError as err:
            raise traitlets.TraitError(str(err)) from None
        return value

    @traitlets.validate("page")
    def _valid_page(self, proposal):
        pages = self.pages
        if not 0 <= proposal["value"] < pages:
            raise traitlets.TraitError(
                f"page {proposal['value']}: there are {pages} (0 to {pages - 1})"
            )
        return proposal["value"]

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.selection) // self.layout_of_page.per_page))

    @traitlets.observe(*FILTER_TRAITS)
    def _filters_changed(self, _change) -> None:
        self.selection = self.catalogue.select(self.filters())
        self.message = ""
        self._show_selection()

    @traitlets.observe("page")
    def _page_changed(self, _change) -> None:
        self._draw_page()

    def page_items(self) -> list[int]:
        """The positions in the data of the items on the page shown."""
        per = self.layout_of_page.per_page
        return self.catalogue.index[
            self.selection[self.page * per : (self.page + 1) * per]
        ].tolist()

    # ---- opening an item

    @traitlets.observe("item")
    def _open(self, change) -> None:
        """The item chosen, in an Explorer below the page; one that cannot be opened is
        refused (``TraitError``) and the item shown before stays."""
        from gbp_widgets.widgets.explorer import Explorer

        index = change.new
        if index is None:
            return
        try:
            row = self.results.item(index)
            arguments = self.opener.arguments(row)
        except (ValueError, KeyError) as err:
            self.set_trait("item", change.old)
            raise traitlets.TraitError(str(err).strip("'\"")) from None

        if self.explorer is not None:
            self.explorer.close()
        self.explorer = Explorer(**arguments)
        self.message = ""
        heading = _item_heading(index, row, self.catalogue)
        self.explorer_box.children = (widgets.HTML(heading), self.explorer)

    def _clicked(self, x: float, y: float) -> None:
        tile = self.layout_of_page.hit(x, y)
        shown = self.page_items()
        if tile is None or tile >= len(shown):
            return
        try:
            self.item = shown[tile]
        except traitlets.TraitError as err:
            self.message = str(err)

    # ---- drawing

    def _show_selection(self) -> None:
        if self.page != 0:
            self.page = 0  # draws the page
        else:
            self._draw_page()
        self._draw_curves()

    def _draw_page(self) -> None:
        per = self.layout_of_page.per_page
        rows = self.selection[self.page * per : (self.page + 1) * per]
        tiles = self.catalogue.tiles(rows)
        # As many rows of tiles as the page fills, so a short page leaves no blank band.
        shown = self.layout_of_page.rows_for(len(tiles))
        picture = sheet(shown, [(t.picture, t.saliency, t.skipped is not None) for t in tiles])
        if self.canvas.height != shown.height:
            self.canvas.height = shown.height
            self.canvas.layout.height = f"{shown.height}px"
        with drawing():
            self.canvas.clear()
            put_picture(self.canvas, picture, 0, 0)
            self.canvas.font = "12px sans-serif"
            for i, tile in enumerate(tiles):
                self.canvas.fill_style = CAPTION_COLOURS[tile.correct]
                x, y = self.layout_of_page.caption_at(i)
                self.canvas.fill_text(tile_caption(tile), x, y)
        self.page_label.value = (
            f"page {self.page + 1} of {self.pages} · {len(self.selection)} of "
            f"{len(self.catalogue)} items"
        )
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1

    def _draw_curves(self) -> None:
        figure = pass_fraction_figure(
            self.catalogue.sites,
            self.catalogue.pass_curves(self.selection),
            self.catalogue.passing_name,
        )
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        self.curves.value = buffer.getvalue()

    @traitlets.observe("message")
    def _say(self, change) -> None:
        self.status.value = (
            f"<span style='color:#c81e2d'>{html.escape(change.new)}</span>" if change.new else ""
        )

    # ---- controls

    def _build(self) -> None:
        catalogue = self.catalogue
        true_options = [("all", ALL)] + [
            (catalogue.true_name(k), k) for k in catalogue.true_classes()
        ]
        predicted_options = [("all", ALL)] + [
            (catalogue.class_name(k), k) for k in catalogue.predicted_classes()
        ]
        wide = {"description_width": "initial"}
        controls = {
            "true_class": widgets.Dropdown(
                options=true_options,
                description="true class",
                style=wide,
                disabled=not catalogue.labelled,
            ),
            "predicted_class": widgets.Dropdown(
                options=predicted_options, description="predicted", style=wide
            ),
            "correctness": widgets.ToggleButtons(
                options=list(CORRECTNESS),
                disabled=not catalogue.knows_correctness,
                tooltips=[]
                if catalogue.knows_correctness
                else [catalogue.correctness_unknown_reason()] * len(CORRECTNESS),
                style={"button_width": "70px"},
            ),
            "confidence": widgets.FloatRangeSlider(
                value=(0.0, 1.0),
                min=0.0,
                max=1.0,
                step=0.01,
                description="confidence",
                style=wide,
                readout_format=".2f",
            ),
            "sort": widgets.Dropdown(
                options=[(label, key) for key, label in SORTS.items()],
                description="sort",
                style=wide,
            ),
        }
        quiet = Quiet()
        for name, control in controls.items():
            control.value = getattr(self, name)
            bind(self, name, control, quiet, lambda text: setattr(self, "message", text))
        self.previous_button = widgets.Button(description="◀ previous", layout={"width": "110px"})
        self.next_button = widgets.Button(description="next ▶", layout={"width": "110px"})
        self.previous_button.on_click(lambda _: self._turn(-1))
        self.next_button.on_click(lambda _: self._turn(1))
        self.page_label = widgets.Label()
        layout = self.layout_of_page
        self.canvas = Canvas(
            width=layout.width,
            height=layout.height,
            layout=widgets.Layout(width=f"{layout.width}px", height=f"{layout.height}px"),
        )
        self.canvas.on_mouse_down(self._clicked)
        # A canvas keeps no picture for a page that connects later (a reload, a second tab).
        self.canvas.on_client_ready(self._draw_page)
        self.status = widgets.HTML()
        self.curves = widgets.Image(format="png")
        self.explorer_box = widgets.VBox()
        self.controls = controls
        self.children = (
            widgets.HBox([controls["true_class"], controls["predicted_class"], controls["sort"]]),
            widgets.HBox([controls["correctness"], controls["confidence"]]),
            widgets.HBox([self.previous_button, self.next_button, self.page_label]),
            self.canvas,
            self.status,
            widgets.HTML(
                "<b>Share of units let through at each site</b>, averaged over the items "
                "filtered, a line per class (click a tile to open it in the Explorer below)"
            ),
            self.curves,
            self.explorer_box,
        )

    def _turn(self, step: int) -> None:
        self.page = int(np.clip(self.page + step, 0, self.pages - 1))


def tile_caption(tile: Tile) -> str:
    """``#17 3 → 5 62%``: position, true class (where known), prediction, confidence."""
    if tile.skipped is not None:
        return f"#{tile.index} skipped: {tile.skipped}"[:38]
    truth = f"{tile.true_name} → " if tile.true_name is not None else ""
    return f"#{tile.index} {truth}{tile.predicted_name} {tile.confidence:.0%}"[:38]


def _item_heading(index: int, row: dict, catalogue: Catalogue) -> str:
    truth = "" if row["label"] is None else f"true: {catalogue.true_name(row['label'])}, "
    words = (
        f"Item {index} in the Explorer ({truth}predicted: "
        f"{catalogue.class_name(row['predicted'])}; the map explains "
        f"{catalogue.class_name(row['target'])})"
    )
    return f"<b>{html.escape(words)}</b>"
