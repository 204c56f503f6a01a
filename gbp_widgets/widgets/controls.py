"""The Explorer's control widgets and their layout; their values are bound to its traits."""

from __future__ import annotations

import ipywidgets as widgets

from gbp_widgets.explore import (
    ALL_CHANNELS,
    CUSTOM,
    DISPLAY_LABELS,
    RULE_LABELS,
    TARGET_KIND_LABELS,
    ExplorerSession,
)
from gbp_widgets.explore.state import PERCENTILE_RANGE
from gbp_widgets.images import SAMPLE_NAMES
from gbp_widgets.models import model_names
from gbp_widgets.widgets.binding import show

AXES = (("depth", 0), ("height", 1), ("width", 2))


class Controls:
    """The Explorer's control widgets, laid out; values are bound to its traits."""

    def __init__(self) -> None:
        full = widgets.Layout(width="auto")
        # Buttons as wide as their words: at the default fixed width a row of them wraps
        # onto a second line in a 1440 x 900 JupyterLab with the file browser open.
        snug = {"button_width": "auto"}
        self.image = widgets.Dropdown(options=[*SAMPLE_NAMES, CUSTOM], description="image")
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="upload")
        self.model = widgets.Dropdown(options=[*model_names(), CUSTOM], description="model")
        self.item = widgets.IntSlider(min=0, max=0, description="item", continuous_update=True)
        self.input_index = widgets.Dropdown(options=[("input 0", 0)], description="input")
        self.axis = widgets.Dropdown(options=AXES, description="cut along")
        self.slice = widgets.IntSlider(min=0, max=0, description="slice", continuous_update=True)
        self.rule = widgets.ToggleButtons(
            options=[(v, k) for k, v in RULE_LABELS.items()], style=snug
        )
        self.layer = widgets.Dropdown(options=["auto"], description="CAM layer")
        self.display = widgets.ToggleButtons(
            options=[(v, k) for k, v in DISPLAY_LABELS.items()], style=snug
        )
        low, high = PERCENTILE_RANGE
        self.percentile = widgets.FloatSlider(
            value=99.0, min=low, max=high, step=0.1, description="clip %", continuous_update=True
        )
        self.top = widgets.ToggleButtons(options=[("-", 0)], description="top-5", style=snug)
        # Plain IntText: a bounded one would clamp 1500 to the maximum in the browser, and
        # the explorer would silently explain another class instead of saying why.
        self.class_index = widgets.IntText(description="class #")
        self.class_name = widgets.Combobox(
            placeholder="any class by name", ensure_option=False, continuous_update=False
        )
        self.target_kind = widgets.ToggleButtons(
            options=[(v, k) for k, v in TARGET_KIND_LABELS.items()],
            description="explain",
            style=snug,
        )
        self.detection = widgets.Dropdown(options=[("-", None)], description="detection")
        self.score_threshold = widgets.FloatSlider(
            value=0.5, min=0.0, max=1.0, step=0.01, description="min score"
        )
        self.site_slider = widgets.IntSlider(
            min=0, max=0, description="site", continuous_update=True
        )
        self.site_name = widgets.Dropdown(options=[("-", 0)])
        self.channel = widgets.Dropdown(
            options=[("all channels", ALL_CHANNELS)], description="channel"
        )
        self.save = widgets.Button(description="save PNG", icon="download")
        self.compare = widgets.ToggleButton(
            description="compare rules", tooltip="Gradient, DeconvNet and Guided side by side"
        )
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.image, self.upload, self.model, self.save]),
                widgets.HBox([self.item, self.input_index, self.axis, self.slice]),
                widgets.HBox([self.rule, self.layer, self.compare]),
                widgets.HBox([self.display, self.percentile]),
                self.top,
                # The buttons' label sits above them: the boxes line up with the buttons.
                widgets.HBox(
                    [self.target_kind, self.class_index, self.class_name],
                    layout=widgets.Layout(align_items="flex-end"),
                ),
                widgets.HBox([self.detection, self.score_threshold]),
                widgets.HBox([self.site_slider, self.site_name, self.channel]),
            ],
            layout=full,
        )

    def offer(self, session: ExplorerSession) -> None:
        """Show the choices this session has, and hide the controls it has no use for."""
        image = session.kind == "image" and not session.as_tuple
        for control in (self.image, self.upload):
            show(control, image)
        show(self.layer, image)
        self.item.max = session.count - 1
        show(self.item, session.count > 1)
        self.input_index.options = [
            (f"input {i}: {view.kind} {view.shape}", i) for i, view in enumerate(session.views)
        ]
        show(self.input_index, len(session.views) > 1)
        volume = any(view.kind == "volume" for view in session.views)
        for control in (self.axis, self.slice):
            show(control, volume)
        self.rule.options = [
            (label, rule) for rule, label in RULE_LABELS.items() if rule != "gradcam" or image
        ]
        kinds = session.target_kinds()
        self.target_kind.options = [(TARGET_KIND_LABELS[k], k) for k in kinds]
        detector = session.output_kind == "detection"
        for control in (self.detection, self.score_threshold):
            show(control, detector)
        for control in (self.top, self.class_index, self.class_name):
            show(control, not detector)

    def offer_displays(self, displays: tuple[str, ...]) -> None:
        self.display.options = [(DISPLAY_LABELS[d], d) for d in displays]
