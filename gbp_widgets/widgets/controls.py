"""The explorer's control widgets and their layout; their values are bound to its traits."""

from __future__ import annotations

import ipywidgets as widgets

from gbp_widgets.images import SAMPLE_NAMES
from gbp_widgets.models import model_names
from gbp_widgets.widgets.session import ALL_CHANNELS
from gbp_widgets.widgets.text import RULE_LABELS

CUSTOM = "custom"
DISPLAY_LABELS = {
    "gradient": "gradient image",
    "saliency": "saliency",
    "positive": "positive",
    "negative": "negative",
    "overlay": "overlay",
}


class Controls:
    """The explorer's control widgets, laid out; values are linked to its traits."""

    def __init__(self) -> None:
        full = widgets.Layout(width="auto")
        self.image = widgets.Dropdown(options=[*SAMPLE_NAMES, CUSTOM], description="image")
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="upload")
        self.model = widgets.Dropdown(options=[*model_names(), CUSTOM], description="model")
        self.rule = widgets.ToggleButtons(options=[(v, k) for k, v in RULE_LABELS.items()])
        self.layer = widgets.Dropdown(options=["auto"], description="CAM layer")
        self.display = widgets.ToggleButtons(options=[(v, k) for k, v in DISPLAY_LABELS.items()])
        self.percentile = widgets.FloatSlider(
            value=99.0,
            min=90.0,
            max=100.0,
            step=0.1,
            description="clip %",
            continuous_update=True,
        )
        self.top = widgets.ToggleButtons(options=[("-", 0)], description="top-5")
        # Plain IntText: a bounded one would clamp 1500 to the maximum in the browser, and
        # the explorer would silently explain another class instead of saying why.
        self.class_index = widgets.IntText(description="class #")
        self.class_name = widgets.Combobox(
            placeholder="any class by name", ensure_option=False, continuous_update=False
        )
        self.target_kind = widgets.ToggleButtons(
            options=[("class", "class"), ("channel at site", "channel"), ("unit", "unit")],
            description="explain",
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
                widgets.HBox([self.rule, self.layer, self.compare]),
                widgets.HBox([self.display, self.percentile]),
                self.top,
                widgets.HBox([self.target_kind, self.class_index, self.class_name]),
                widgets.HBox([self.site_slider, self.site_name, self.channel]),
            ],
            layout=full,
        )
