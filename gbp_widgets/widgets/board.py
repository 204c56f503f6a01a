"""The Explorer's pictures on screen: the rows of panels, the rule comparison, the hover
read-out and the channel grid, drawn from :mod:`gbp_widgets.explore.scene`."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ipywidgets as widgets
import numpy as np

from gbp_widgets import render
from gbp_widgets.explore import COMPARED_RULES, ExplorerSession, View
from gbp_widgets.explore.scene import (
    CAM_PANEL,
    comparison_keys,
    comparison_labels,
    panel_captions,
    panel_keys,
    row_captions,
)
from gbp_widgets.explore.words import GRID_CAPTION, frame_words
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
        # The comparison row: three maps at the panel size, or four (with the Grad-CAM heat
        # map) sized to the same row width.
        self.comparisons = {
            False: PanelStrip(COMPARED_RULES, size),
            True: PanelStrip((*COMPARED_RULES, CAM_PANEL), (3 * size - GAP) // 4),
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

    def set_rows(self, rows: tuple[tuple[str, ...], ...]) -> None:
        """Panel rows named ``rows``; kept when they already are."""
        if tuple(strip.names for strip in self.rows) == rows:
            return
        for strip in self.rows:
            close_parts(strip.widget)
            strip.widget.close()
        hover, click, key = self._callbacks
        self.rows = tuple(PanelStrip(names, self.size) for names in rows)
        for strip in self.rows:
            strip.on_hover(lambda x, y, strip=strip: hover(strip, x, y))
            strip.on_leave(lambda x, y: self.crosshair(None, None))
            strip.on_click(lambda x, y, strip=strip: click(strip, x, y))
            strip.on_key(key)
        self.rows_box.children = [strip.widget for strip in self.rows]

    def draw(
        self,
        session: ExplorerSession,
        view: View,
        pictures: Mapping[str, np.ndarray],
        compare: bool,
        live: bool = False,
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Draw ``pictures`` (the session's panels for ``view``) with their words and keys,
        and the comparison row when ``compare``; the pictures at the panel size and the
        comparison's pictures. ``live``: the input is a webcam frame, captioned with its
        top class."""
        words = panel_captions(session, view)
        if live:
            words["input"] = frame_words(session.top_classes(1)[0])
        fitted = self._fitted(pictures)
        keys = {name: key_html(key, self.size) for name, key in panel_keys(session, view).items()}
        for strip, caption in zip(self.rows, row_captions(session, view), strict=True):
            strip.draw(pictures, words, fitted, keys, caption)
        self.grid.draw(pictures["grid"])
        return fitted, self._draw_comparison(session, view, compare)

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

    def _draw_comparison(
        self, session: ExplorerSession, view: View, compare: bool
    ) -> dict[str, np.ndarray]:
        with_cam = view.rule == "gradcam"
        for has_cam, strip in self.comparisons.items():
            strip.widget.layout.display = "" if compare and has_cam == with_cam else "none"
        if not compare:
            return {}
        strip = self.comparisons[with_cam]
        pictures = session.compare_panels(view, strip.size)
        keys = comparison_keys(session, view, pictures)
        strip.draw(
            pictures,
            comparison_labels(session, view),
            keys={name: key_html(key, strip.size) for name, key in keys.items()},
        )
        return pictures

    def crosshair(self, row: int | None, column: int | None) -> None:
        for strip in self.rows:
            strip.crosshair(row, column)

    def show_readout(self, values: Mapping[str, object] | None) -> None:
        self.readout_view.value = "" if values is None else readout_html(values)
