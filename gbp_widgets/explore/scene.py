"""What the Explorer shows for a view, in one place: its rows of panels, their captions and
colour keys, the rule comparison's labels, and the figure of it all.

The canvases, :meth:`Explorer.figure` and the picture saved for pages without a kernel
all take their words and keys from here, so they never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gbp_widgets.colour_keys import (
    ACTIVATION_KEY,
    MASK_KEY,
    ColourKey,
    LabelKey,
    clip_note,
    display_key,
)
from gbp_widgets.explore.names import (
    COMPARED_RULES,
    MAP_PANELS,
    MASK_PANELS,
    PERCENTILE,
    RULE_LABELS,
)
from gbp_widgets.explore.outputs import ClassScores, DenseMap
from gbp_widgets.explore.passes import View
from gbp_widgets.explore.session import ExplorerSession
from gbp_widgets.explore.views import TableView
from gbp_widgets.explore.words import (
    GRID_CAPTION,
    captions,
    row_caption,
    site_words,
    target_words,
)
from gbp_widgets.figures import Labelled, NotebookFigure, panel_figure, top_classes_title

# The Grad-CAM heat map, shown beside the compared rules for Guided Grad-CAM.
CAM_PANEL = "cam"


def panel_rows(session: ExplorerSession) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The panels by row: the maps (a dense output adds its label map), then the masks."""
    if isinstance(session.output_kind, DenseMap):
        return ("input", "output", "attribution", "activation"), MASK_PANELS
    return MAP_PANELS, MASK_PANELS


def panel_captions(session: ExplorerSession, view: View) -> dict[str, str]:
    """Each panel's caption, by panel name."""
    layer = session.result(view.target, view.rule).layer if view.rule == "gradcam" else ""
    if not session.site_names:
        return captions(view, session.class_name, layer, None)
    rectifier, gate = session.site_rectifier(view.site), session.site_gate(view.site)
    return captions(view, session.class_name, layer, rectifier, gate)


def row_captions(session: ExplorerSession, view: View) -> list[str]:
    """The words over each row of :func:`panel_rows`: the site it shows, in full."""
    site, gated = "", False
    if session.site_names:
        site = site_words(session.site_names[view.site], session.site_rectifier(view.site))
        gated = session.site_gate(view.site) is not None
    return [row_caption(names, view, site, gated) for names in panel_rows(session)]


def attribution_key(session: ExplorerSession, view: View) -> ColourKey | None:
    return session.views[view.input_index].attribution_key(view.display, view.percentile)


def panel_keys(session: ExplorerSession, view: View) -> dict[str, ColourKey | LabelKey]:
    """How to read each panel's colours, by panel name; none for the input and for maps
    drawn with axes of their own."""
    keys: dict[str, ColourKey | LabelKey] = {"activation": ACTIVATION_KEY}
    if isinstance(session.output_kind, DenseMap):
        keys["output"] = session.output_key()
    if session.site_names:
        keys.update(session.mask_keys(view.site, view.channel))
    attribution = attribution_key(session, view)
    if attribution is not None:
        keys["attribution"] = attribution
    return keys


def comparison_labels(session: ExplorerSession, view: View) -> dict[str, str]:
    words = target_words(view.target, session.class_name)
    labels = {rule: f"{RULE_LABELS[rule]}: {words}" for rule in COMPARED_RULES}
    labels[CAM_PANEL] = "Grad-CAM heat map"
    return labels


def comparison_keys(
    session: ExplorerSession, view: View, pictures: Mapping[str, np.ndarray]
) -> dict[str, ColourKey]:
    """Keys of the comparison row's panels in ``pictures``, by name."""
    attribution = attribution_key(session, view)
    keys = {} if attribution is None else dict.fromkeys(COMPARED_RULES, attribution)
    if CAM_PANEL in pictures:
        keys[CAM_PANEL] = display_key("overlay", PERCENTILE)
    return {name: key for name, key in keys.items() if name in pictures}


def title(session: ExplorerSession, view: View) -> str:
    """The top classes (a dense output's shares of positions, a detector's scores)."""
    kind = session.output_kind
    if isinstance(kind, ClassScores):
        return top_classes_title(session.probabilities, session.classes)
    top = session.top_classes(5, view.score_threshold)
    ranked = "  ".join(f"{r}. {name} {100 * p:.1f}%" for r, (_, name, p) in enumerate(top, 1))
    return kind.lead + ranked


def figure(
    session: ExplorerSession,
    view: View,
    pictures: Mapping[str, np.ndarray],
    comparison: Mapping[str, np.ndarray],
) -> NotebookFigure:
    """A figure of the rows of ``pictures`` (at the panel size), the rule ``comparison``
    when it is not empty, and the channel grid, each map with its colour key; titled
    with the top classes."""
    # A picture cannot be hovered or clicked: its label map is only labels.
    words = {**panel_captions(session, view), "output": "predicted labels"}
    shown = {**pictures, **_labelled(session, view, pictures["input"].shape[0])}
    rows = [{words[name]: shown[name] for name in row} for row in panel_rows(session)]
    own_keys = panel_keys(session, view)
    keys = {words[name]: key for name, key in own_keys.items()}
    if comparison:
        compared = comparison_labels(session, view)
        rows.append({compared[name]: p for name, p in comparison.items()})
        shown = comparison_keys(session, view, comparison)
        keys.update({compared[name]: key for name, key in shown.items()})
    names = session.site_names
    grid = f"{GRID_CAPTION}, at {names[view.site]}" if names else GRID_CAPTION
    # The grid shows each channel's product whole: a gated site's in grey levels.
    keys[grid] = session.mask_keys(view.site, 0)["product"] if names else MASK_KEY
    note = clip_note(view.percentile) if "attribution" in own_keys else ""
    heading = "\n".join([title(session, view), row_captions(session, view)[-1]]).strip()
    return panel_figure(rows, heading, note=note, keys=keys, wide=(grid, pictures["grid"]))


def _labelled(session: ExplorerSession, view: View, size: int) -> dict[str, Labelled]:
    """A table's bars with their feature names written by the figure; none otherwise."""
    shown = session.views[view.input_index]
    if not isinstance(shown, TableView):
        return {}
    result = session.result(view.target, view.rule)
    return shown.figure_panels(
        session.input_values(view.input_index),
        session.attribution(result, view.input_index),
        view.display,
        view.percentile,
        size,
    )
