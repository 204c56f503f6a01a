"""The Explorer's pictures on screen: the rows of panels, the rule comparison, the hover
read-out and the channel grid, each redraw one :class:`~gbp_widgets.explore.Scene`."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ipywidgets as widgets
import numpy as np

from gbp_widgets.explore import Scene
from gbp_widgets.explore.rules import COMPARISONS
from gbp_widgets.explore.scene import PanelRow
from gbp_widgets.explore.words import GRID_CAPTION
from gbp_widgets.pictures import render
from gbp_widgets.widgets.binding import close_parts
from gbp_widgets.widgets.canvas import GAP, GridCanvas, PanelStrip
from gbp_widgets.widgets.text import key_html, readout_html

# A strip and a point on its canvas.
PointerCallback = Callable[[PanelStrip, float, float], None]


class Board:
    """The canvases and the words beside them, in ``parts``.

    ``hover`` and ``click`` get ``(strip, x, y)`` for the panel rows, ``key`` the key
    pressed on a focused canvas, and ``grid_click`` ``(x, y)`` on the channel grid.
    """

    def __init__(
        self,
        size: int,
        hover: PointerCallback,
        click: PointerCallback,
        key: Callable[..., None],
        grid_click: Callable[[float, float], None],
    ) -> None:
        self.size = size
        self._callbacks = (hover, click, key)
        self.rows: tuple[PanelStrip, ...] = ()
        self.rows_box = widgets.VBox()
        # A comparison row for each there can be: the maps as wide as three panels.
        self.comparisons = {
            names: PanelStrip(names, self.comparison_size(len(names))) for names in COMPARISONS
        }
        for strip in self.comparisons.values():
            strip.widget.layout.display = "none"
        # Every field of the read-out stays whole: the box grows a line where it wraps.
        self.readout_view = widgets.HTML(layout=widgets.Layout(min_height="3.2em"))
        self.grid = GridCanvas(
            f"<b>{GRID_CAPTION}</b> (click one to show it; click a mask pixel to explain that unit)"
        )
        self.grid.canvas.on("down", grid_click)
        self._scaled: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        # Laid out by the Explorer, in this order.
        self.parts = (
            self.rows_box,
            *(strip.widget for strip in self.comparisons.values()),
            self.readout_view,
            self.grid.canvas,
        )

    def comparison_size(self, count: int) -> int:
        """The side of ``count`` panels in a comparison row as wide as three panels."""
        return (3 * self.size - (count - 3) * GAP) // count

    def set_rows(self, rows: tuple[PanelRow, ...]) -> None:
        """Panel rows of ``rows``' names; kept when they already are."""
        names = tuple(row.names for row in rows)
        if tuple(strip.names for strip in self.rows) == names:
            return
        for strip in self.rows:
            close_parts(strip.widget)
            strip.widget.close()
        hover, click, key = self._callbacks
        self.rows = tuple(PanelStrip(row, self.size) for row in names)
        for strip in self.rows:
            strip.on_hover(lambda x, y, strip=strip: hover(strip, x, y))
            strip.on_leave(lambda x, y: self.crosshair(None, None))
            strip.on_click(lambda x, y, strip=strip: click(strip, x, y))
            strip.on_key(key)
        self.rows_box.children = [strip.widget for strip in self.rows]

    def draw(self, scene: Scene) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Draw ``scene``: its rows with their words and keys, the channel grid, and the
        comparison row when it has one; the pictures at the panel size and the
        comparison's pictures."""
        self.set_rows(scene.rows)
        fitted = self._fitted(scene.pictures)
        keys = {name: key_html(key, self.size) for name, key in scene.keys.items()}
        for strip, row in zip(self.rows, scene.rows, strict=True):
            strip.draw(scene.pictures, scene.captions, fitted, keys, row.caption)
        self.grid.draw(scene.pictures["grid"])
        compared = scene.comparison
        for names, strip in self.comparisons.items():
            strip.widget.layout.display = "" if compared and compared.names == names else "none"
        if compared is None:
            return fitted, {}
        strip = self.comparisons[compared.names]
        strip.draw(
            compared.pictures,
            compared.labels,
            keys={name: key_html(key, strip.size) for name, key in compared.keys.items()},
        )
        return fitted, dict(compared.pictures)

    def _fitted(self, pictures: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The pictures at the panel size; one that did not change is not scaled again
        (scaling every panel on every redraw cost a third of a site change)."""
        fitted = {}
        for name, picture in pictures.items():
            source, scaled = self._scaled.get(name, (None, None))
            if source is not picture:
                scaled = picture if name == "grid" else render.fit(picture, self.size)
                self._scaled[name] = (picture, scaled)
            fitted[name] = scaled
        return fitted

    def crosshair(self, row: int | None, column: int | None) -> None:
        for strip in self.rows:
            strip.crosshair(row, column)

    def show_readout(self, values: Mapping[str, object] | None) -> None:
        self.readout_view.value = "" if values is None else readout_html(values)
