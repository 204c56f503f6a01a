"""The Explorer's controls, made from a state table, laid out where its rows place them, and
given a session's choices.

Every control of a row of the table is made here from its kind; the class pickers (the
top-5 buttons and the name box), the upload, the webcam bar (three traits' toggles in one
widget) and the save button are made here by hand, placed where the table's ``others`` say.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
from ipywidgets.widgets.widget_bool import ToggleButtonStyle
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_int import SliderStyle
from ipywidgets.widgets.widget_selection import ToggleButtonsStyle
from ipywidgets.widgets.widget_string import TextStyle

from gbp_widgets.explore import ExplorerSession, Line, Row, StateTable, Widget
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
    if widget is Widget.TEXT_BOX:
        return widgets.Text(description=label, continuous_update=False, **parts)
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
    Widget.TEXT_BOX: TextStyle,
    # Buttons as wide as their words: at the default fixed width a row of them wraps onto
    # a second line in a 1440 x 900 JupyterLab with the file browser open.
    Widget.BUTTONS: lambda: ToggleButtonsStyle(button_width="auto"),
    Widget.SLIDER: SliderStyle,
    Widget.NUMBER_SLIDER: SliderStyle,
    Widget.TOGGLE: ToggleButtonStyle,
}


# The line whose buttons have their label above them: the boxes line up with the buttons.
_BOTTOM_ALIGNED = Line.TARGET


class Controls:
    """The controls of ``table``'s rows, by name (``controls.rule``, ``controls.site_slider``,
    ...), and ``bound``: the controls of each trait, by trait name."""

    def __init__(self, table: StateTable) -> None:
        self.table = table
        self.bound: dict[str, tuple[widgets.Widget, ...]] = {}
        styles = {kind: make() for kind, make in _STYLES.items()}
        # Controls shown and hidden together share a layout (hiding one hides them all).
        layouts: dict[object, widgets.Layout] = {}
        for name, row in table.items():
            if not row.controls:
                continue
            if row.shown not in layouts:
                # Not setdefault: its default would make a model on every call.
                layouts[row.shown] = widgets.Layout()
            layout = layouts[row.shown]
            made = tuple(
                _made(c.widget, row, c.label, {"layout": layout, "style": styles[c.widget]})
                for c in row.controls
            )
            for control, spec in zip(made, row.controls, strict=True):
                setattr(self, spec.name, control)
            self.bound[name] = made
        pictures, classes = layouts[table["image"].shown], layouts[table["target"].shown]
        self.upload = widgets.FileUpload(
            accept="image/*", multiple=False, description="upload", layout=pictures
        )
        self.camera = Camera(layout=pictures)
        # Shown always, as the rows without a condition: their layout serves it too.
        self.save = widgets.Button(description="save PNG", icon="download", layout=layouts[None])
        self.top = widgets.ToggleButtons(
            options=[("-", 0)], description="top-5", style=styles[Widget.BUTTONS], layout=classes
        )
        self.class_name = widgets.Combobox(
            placeholder="any class by name",
            ensure_option=False,
            continuous_update=False,
            layout=classes,
            style=styles[Widget.TEXT_BOX],
        )
        line, bottom = widgets.Layout(), widgets.Layout(align_items="flex-end")
        self.lines = table.layout()
        self.widget = widgets.VBox(
            [
                widgets.HBox(
                    [getattr(self, name) for name in names],
                    layout=bottom if at is _BOTTOM_ALIGNED else line,
                )
                for at, names in self.lines
            ],
            layout=widgets.Layout(width="auto"),
        )

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
            row = self.table[name]
            offered = self.table.options(name, session, state)
            for control, spec in zip(controls, row.controls, strict=True):
                if row.shown is not None:
                    show(control, row.shown(session))
                if row.choices is None:
                    continue
                if spec.widget is Widget.SLIDER:
                    control.max = max(value for _, value in offered)
                elif spec.widget in (Widget.MENU, Widget.BUTTONS):
                    control.options = offered or [("-", row.default)]
        if names is None or "target" in names:
            self.offer_top(session, state)
        if names is None:
            self.class_name.options = list(session.classes)

    def offer_top(self, session: ExplorerSession, state: Mapping[str, object]) -> None:
        """The top-5 buttons for the session's item (call it quietly)."""
        self.top.options = self.table.options("target", session, state)
