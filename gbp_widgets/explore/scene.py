"""What the Explorer shows for a view, as one value (:class:`Scene`): its rows of panels,
their pictures, captions and colour keys, the rule comparison, the channel grid and the
title. The canvases, :meth:`Explorer.figure` and the picture saved for pages without a
kernel all draw the same scene, built once per redraw, so they never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, partial

import numpy as np

from gbp_widgets.explore.names import MASK_PANELS
from gbp_widgets.explore.rules import COMPARED_RULES, RULES, comparison_names
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.explore.sites import site_mask_keys
from gbp_widgets.explore.view import View
from gbp_widgets.explore.words import (
    GRID_CAPTION,
    captions,
    frame_words,
    row_caption,
    site_words,
    target_words,
)
from gbp_widgets.pictures import render
from gbp_widgets.pictures.colour_keys import (
    ACTIVATION_KEY,
    MASK_KEY,
    ColourKey,
    LabelKey,
    clip_note,
)
from gbp_widgets.pictures.figures import Labelled, NotebookFigure, panel_figure

Key = ColourKey | LabelKey


@dataclass(frozen=True)
class PanelRow:
    """One row of panels: their names, left to right, and the words over the row."""

    names: tuple[str, ...]
    caption: str


@dataclass(frozen=True)
class Comparison:
    """The rules' maps side by side: panel names, pictures, labels and keys by name."""

    names: tuple[str, ...]
    pictures: Mapping[str, np.ndarray]
    labels: Mapping[str, str]
    keys: Mapping[str, ColourKey]


@dataclass(frozen=True)
class Scene:
    """Everything shown for ``view``: the ``rows`` of panels, their ``pictures`` by name
    (each at its own size; the channel grid as ``"grid"``), ``captions`` and ``keys`` by
    panel name, the grid's words and key, the ``comparison`` when the rules are compared,
    the ``title`` (the top classes) and the clip ``note`` under the maps. Only a figure
    reads the title and the table's labelled bars: they are made when first read."""

    view: View
    rows: tuple[PanelRow, ...]
    pictures: Mapping[str, np.ndarray]
    captions: Mapping[str, str]
    keys: Mapping[str, Key]
    grid_caption: str
    grid_key: ColourKey
    comparison: Comparison | None
    note: str
    titled: Callable[[], str] = field(repr=False)
    # A figure's table bars, their names written by the figure (none for other inputs).
    labelled: Callable[[], dict[str, Labelled]] = field(default=dict, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        """The panels shown, in order."""
        return tuple(name for row in self.rows for name in row.names)

    @cached_property
    def title(self) -> str:
        return self.titled()

    @cached_property
    def figure_panels(self) -> dict[str, Labelled]:
        return self.labelled()


def scene_of(
    session: ExplorerSession,
    view: View,
    size: int,
    compare: bool = False,
    comparison_size: Callable[[int], int] = lambda count: 0,
    live: bool = False,
) -> Scene:
    """The scene of ``view`` with ``size``-pixel panels: the rule comparison when
    ``compare`` (its panels ``comparison_size(count)`` pixels for ``count`` of them);
    ``live``: the input is a webcam frame, captioned with its top class."""
    pictures = session.panels(view, size)
    result = session.result(view.target, view.rule)
    output, panels = session.output_kind, session.shown.panels
    site, gate, rectifier = "", None, None
    if session.site_names:
        rectifier = session.site_rectifier(view.site)
        gate = session.site_gate(view.site)
        site = site_words(session.site_names[view.site], rectifier)
    kind = session.kinds[view.input_index]
    words = captions(
        view, session.class_name, result.layer or "", rectifier, gate, kind.site_rows, output.scored
    )
    if live:
        words["input"] = frame_words(session.top_classes(1)[0])
    attribution = kind.attribution_key(view.display, view.percentile)
    keys: dict[str, Key] = {
        "activation": ACTIVATION_KEY,
        **output.keys(session.class_name),
    }
    if session.site_names:
        keys.update(_mask_keys(session, view.site, view.channel))
    if attribution is not None:
        keys["attribution"] = attribution
    named = (output.map_panels, MASK_PANELS)
    names = session.site_names
    return Scene(
        view=view,
        rows=tuple(
            PanelRow(row, row_caption(row, view, site, gate is not None, kind.site_rows))
            for row in named
        ),
        pictures=pictures,
        captions=words,
        keys=keys,
        grid_caption=f"{GRID_CAPTION}, at {names[view.site]}" if names else GRID_CAPTION,
        # The grid shows each channel's product whole: a gated site's in grey levels.
        grid_key=_mask_keys(session, view.site, 0)["product"] if names else MASK_KEY,
        comparison=_comparison(session, view, comparison_size, attribution) if compare else None,
        note=clip_note(view.percentile) if attribution is not None else "",
        # Of this item, whichever the session shows when they are read.
        titled=partial(output.title, session.classes, view.score_threshold, view.chosen),
        labelled=partial(
            kind.figure_panels,
            panels.input_values(view.input_index),
            panels.attribution(result, view.input_index),
            view.display,
            view.percentile,
            size,
        ),
    )


def _mask_keys(session: ExplorerSession, site: int, channel: int) -> dict[str, ColourKey]:
    """How to read each mask panel at ``site`` showing ``channel``, by panel name."""
    return site_mask_keys(session.site_shape(site), channel, session.site_gate(site) is not None)


def _comparison(session, view, comparison_size, attribution) -> Comparison:
    rule = RULES[view.rule]
    names = comparison_names(rule)
    pictures = session.compare_panels(view, comparison_size(len(names)))
    rows = session.kinds[view.input_index].site_rows
    words = target_words(view.target, session.class_name, rows, session.output_kind.scored)
    labels = {name: f"{RULES[name].label}: {words}" for name in COMPARED_RULES}
    keys = {} if attribution is None else dict.fromkeys(COMPARED_RULES, attribution)
    return Comparison(names, pictures, labels | dict(rule.beside), keys | rule.beside_keys())


def figure(scene: Scene, size: int) -> NotebookFigure:
    """A figure of ``scene``: its rows of panels at ``size`` pixels, the rule comparison
    when there is one, and the channel grid, each map with its colour key; titled with
    the top classes and the row of masks' words."""
    # A picture cannot be hovered or clicked: its label map is only labels.
    words = {**scene.captions, "output": "predicted labels"}
    fitted = {name: render.fit(p, size) for name, p in scene.pictures.items() if name != "grid"}
    shown = {**fitted, **scene.figure_panels}
    rows = [{words[name]: shown[name] for name in row.names} for row in scene.rows]
    keys = {words[name]: key for name, key in scene.keys.items() if name in words}
    if scene.comparison is not None:
        compared = scene.comparison
        rows.append({compared.labels[name]: compared.pictures[name] for name in compared.names})
        keys.update({compared.labels[name]: key for name, key in compared.keys.items()})
    keys[scene.grid_caption] = scene.grid_key
    heading = "\n".join([scene.title, scene.rows[-1].caption]).strip()
    return panel_figure(
        rows, heading, note=scene.note, keys=keys, wide=(scene.grid_caption, scene.pictures["grid"])
    )
