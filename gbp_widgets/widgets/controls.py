"""The Explorer's controls, made from the state table, laid out, and given a session's choices.

Every control of a row of :data:`gbp_widgets.explore.state.STATE` is made here from
its kind; the class pickers (the top-5 buttons and the name box), the upload, the webcam
bar (three traits' toggles in one widget) and the save button are made here by hand.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
from ipywidgets.widgets.widget_bool import ToggleButtonStyle
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_int import SliderStyle
from ipywidgets.widgets.widget_selection import ToggleButtonsStyle

from gbp_widgets.explore import STATE, ExplorerSession, Row, Widget, options
from gbp_widgets.widgets.binding import show
from gbp_widgets.widgets.camera import Camera


def _made(widget: Widget, row: Row, label: str, parts: dict) -> widgets.Widget:
    """A control of kind ``widget`` for ``row``; ``parts``: its layout and style."""
    if widget is Widget.MENU:
        return widgets.Dropdown(options=[("-", row.default)], description=label, **parts)
    if widget is Widget.BUTTONS:
        return widgets.ToggleButtons(options=[("-", row.default)], description=label, **parts)
    if widget is Widget.SLIDER:
        return widgets.IntSlider(min=0, max=0, description=label, **parts)
    if widget is Widget.NUMBER_SLIDER:
        low, high, step = row.bounds
        return widgets.FloatSlider(
            value=row.default, min=low, max=high, step=step, description=label, **parts
        )
    if widget is Widget.WHOLE_BOX:
        # Plain IntText: a bounded one would clamp 1500 to the maximum in the browser, and
        # the Explorer would silently explain another class instead of saying why.
        return widgets.IntText(description=label, **parts)
    return widgets.ToggleButton(description=label, tooltip=row.help, **parts)


# One style model per kind of control, shared by the controls of that kind: each widget
# would otherwise bring a model of its own into the kernel and the saved notebook.
_STYLES = {
    Widget.MENU: DescriptionStyle,
    Widget.WHOLE_BOX: DescriptionStyle,
    # Buttons as wide as their words: at the default fixed width a row of them wraps onto
    # a second line in a 1440 x 900 JupyterLab with the file browser open.
    Widget.BUTTONS: lambda: ToggleButtonsStyle(button_width="auto"),
    Widget.SLIDER: SliderStyle,
    Widget.NUMBER_SLIDER: SliderStyle,
    Widget.TOGGLE: ToggleButtonStyle,
}


# Controls by line, in the order they are shown.
LAYOUT = (
    ("image", "upload", "model", "activations", "save"),
    # The webcam bar shares a line with the item controls, which a single photo never shows.
    ("camera", "item", "input_index", "axis", "slice"),
    ("rule", "layer", "compare"),
    ("display", "percentile"),
    ("top",),
    ("target_kind", "class_index", "class_name"),
    ("detection", "score_threshold"),
    ("site_slider", "site_name", "channel"),
)


class Controls:
    """The Explorer's controls, by name (``controls.rule``, ``controls.site_slider``, ...),
    and ``bound``: the controls of each trait, by trait name."""

    def __init__(self) -> None:
        self.bound: dict[str, tuple[widgets.Widget, ...]] = {}
        styles = {kind: make() for kind, make in _STYLES.items()}
        # Controls shown and hidden together share a layout (hiding one hides them all).
        layouts: dict[object, widgets.Layout] = {}
        for name, row in STATE.items():
            layout = layouts.setdefault(row.shown, widgets.Layout())
            made = tuple(
                _made(c.widget, row, c.label, {"layout": layout, "style": styles[c.widget]})
                for c in row.controls
            )
            for control, spec in zip(made, row.controls, strict=True):
                setattr(self, spec.name, control)
            if made:
                self.bound[name] = made
        pictures, classes = layouts[STATE["image"].shown], layouts[STATE["target"].shown]
        self.upload = widgets.FileUpload(
            accept="image/*", multiple=False, description="upload", layout=pictures
        )
        self.camera = Camera(layout=pictures)
        self.save = widgets.Button(description="save PNG", icon="download")
        self.top = widgets.ToggleButtons(
            options=[("-", 0)], description="top-5", style=styles[Widget.BUTTONS], layout=classes
        )
        self.class_name = widgets.Combobox(
            placeholder="any class by name",
            ensure_option=False,
            continuous_update=False,
            layout=classes,
        )
        line = widgets.Layout()
        lines = [
            widgets.HBox([getattr(self, name) for name in names], layout=line) for names in LAYOUT
        ]
        # The buttons' label sits above them: the boxes line up with the buttons.
        lines[LAYOUT.index(("target_kind", "class_index", "class_name"))].layout = widgets.Layout(
            align_items="flex-end"
        )
        self.widget = widgets.VBox(lines, layout=widgets.Layout(width="auto"))

    def offer(
        self,
        session: ExplorerSession,
        state: Mapping[str, object],
        names: tuple[str, ...] | None = None,
    ) -> None:
        """Give every control (of the traits in ``names``, when given) the choices
        ``state`` has in ``session`` and show only the controls that apply; call it
        quietly, then set the controls to the traits."""
        for name, controls in self.bound.items():
            if names is not None and name not in names:
                continue
            row = STATE[name]
            offered = options(name, session, state)
            for control in controls:
                if row.shown is not None:
                    show(control, row.shown(session))
                if row.choices is None:
                    continue
                if isinstance(control, widgets.IntSlider):
                    control.max = max(value for _, value in offered)
                else:
                    control.options = offered or [("-", row.default)]
        if names is not None:
            return
        self.offer_top(session)
        self.class_name.options = list(session.classes)

    def offer_top(self, session: ExplorerSession) -> None:
        """The top-5 buttons for the session's item (call it quietly)."""
        top = session.top_classes(5)
        self.top.options = [(f"{n} {100 * p:.1f}%", i) for i, n, p in top] or [("-", 0)]
