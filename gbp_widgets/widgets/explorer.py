"""The Explorer: guided backprop and every ReLU's masks, live in a notebook."""

from __future__ import annotations

import html
import os
import warnings
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import torch
import traitlets
from PIL import Image
from torch import nn

from gbp_widgets import render
from gbp_widgets.engine import Neuron
from gbp_widgets.figures import NotebookFigure, panel_figure, top_classes_title
from gbp_widgets.images import SAMPLE_NAMES, load_image, sample_image
from gbp_widgets.models import DEFAULT_MODEL, Preprocessing, load_model
from gbp_widgets.widgets.canvas import GAP, GridCanvas, PanelStrip
from gbp_widgets.widgets.controls import CUSTOM, DISPLAY_LABELS, Controls
from gbp_widgets.widgets.latest import LatestOnly
from gbp_widgets.widgets.quiet import Quiet
from gbp_widgets.widgets.sanity_tab import SanityTab
from gbp_widgets.widgets.session import (
    ALL_CHANNELS,
    COMPARED_RULES,
    ExplorerSession,
    View,
)
from gbp_widgets.widgets.text import (
    RULE_LABELS,
    captions,
    readout_html,
    target_words,
    unknown_class_message,
)

# Two rows that fit a 900-pixel output area at the default panel size (3 x 224 + 2 gaps
# = 688 px): the maps and the site's output over the three masks.
MAP_ROW = ("input", "attribution", "activation")
MASK_ROW = ("forward", "backward", "product")
PANELS = MAP_ROW + MASK_ROW
# Arrow keys on the canvas: left/right step the channel, up/down the site.
_KEY_STEPS = {"ArrowLeft": ("channel", -1), "ArrowRight": ("channel", 1)}
_KEY_STEPS |= {"ArrowUp": ("site", -1), "ArrowDown": ("site", 1)}
# Traits whose change needs a backward pass; the others only re-render.
_BACKWARD_TRAITS = ("target", "target_kind", "rule", "unit")
_RENDER_TRAITS = ("display", "percentile", "site", "channel", "compare")
# Traits the constructor accepts by name, in the order they are applied.
_STATE_TRAITS = (
    "target_kind",
    "rule",
    "layer",
    "display",
    "percentile",
    "site",
    "channel",
    "target",
)


class Explorer(widgets.VBox):
    """Explore Gradients, DeconvNet and Guided Backprop, down to each ReLU's masks.

    ``Explorer()`` opens the offline default model on a sample photo.
    ``Explorer(model=m, image=x, classes=names)`` explores your own model:
    ``image`` is a path, bytes, a PIL image or a model-ready ``(3, H, W)``
    tensor; ``preprocess`` turns pictures into inputs (ImageNet's by default).
    State lives in the traits below; :attr:`panels` holds the pictures drawn.
    """

    image = traitlets.Unicode("chelsea", help="sample photo name, or 'custom'")
    model_name = traitlets.Unicode(DEFAULT_MODEL, help="load_model name, or 'custom'")
    target = traitlets.Int(0, help="class index explained when target_kind is 'class'")
    target_kind = traitlets.Unicode(
        "class", help="'class', 'channel' at the site, or 'unit' (one unit of that channel)"
    )
    unit = traitlets.Tuple((), help="(y, x) at the site of the unit explained, for 'unit'")
    rule = traitlets.Unicode("guided", help="gradient, deconvnet, guided or gradcam")
    layer = traitlets.Unicode("auto", help="Grad-CAM layer: a module path or 'auto'")
    display = traitlets.Unicode("gradient", help="how the attribution is drawn")
    percentile = traitlets.Float(99.0, help="percentile of |attribution| that saturates")
    site = traitlets.Int(0, help="index of the ReLU site shown, in forward order")
    channel = traitlets.Int(ALL_CHANNELS, help="channel shown at the site; -1 for all")
    compare = traitlets.Bool(False, help="show Gradient, DeconvNet and Guided side by side")
    message = traitlets.Unicode("", help="the last problem reported to the user")

    def __init__(
        self,
        model: nn.Module | None = None,
        image: object = None,
        classes: list[str] | tuple[str, ...] | None = None,
        preprocess: Preprocessing | None = None,
        panel_size: int = 224,
        **kwargs,
    ) -> None:
        # Trait values given by name (target=, rule=, site=, ...) are applied once the
        # model and image are known, and checked like any other value.
        requested = {name: kwargs.pop(name) for name in _STATE_TRAITS if name in kwargs}
        super().__init__(**kwargs)
        self.panel_size = panel_size
        self._scheduler = LatestOnly()
        self._quiet = Quiet()
        self._channels_stale = False
        self._shown: View | None = None
        self.panels: dict[str, np.ndarray] = {}
        self.comparison: dict[str, np.ndarray] = {}
        self._build_views()
        self._start(model, image, classes, preprocess)
        self._apply(requested)
        self._wire()
        self._request_draw()

    # -- construction -------------------------------------------------------------------

    def _start(self, model, image, classes, preprocess) -> None:
        """Open the session on ``model`` (the default when ``None``) and ``image``.

        A user model that cannot be explained raises: no other model is put in its place.
        """
        sample = image if isinstance(image, str) and image in SAMPLE_NAMES else None
        if sample is not None or image is None:
            picture = sample_image(sample or self.image)
        else:
            picture = _as_picture(image)
        with self._quiet():
            self.set_trait("image", sample or (CUSTOM if image is not None else self.image))
            if model is not None:
                self.set_trait("model_name", CUSTOM)
        if model is None:
            self._session = _session_of(load_model(DEFAULT_MODEL), picture)
        else:
            try:
                self._session = ExplorerSession(
                    model, preprocess or Preprocessing(), classes, picture
                )
            except Exception as err:
                raise ValueError(f"your model could not be explained: {_describe(err)}") from err
        self._after_new_input()

    def _apply(self, requested: dict[str, object]) -> None:
        """Set the trait values given to the constructor, or raise saying which is wrong."""
        for name in _STATE_TRAITS:
            if name not in requested:
                continue
            value = requested[name]
            problem = self._problem(name, value)
            if problem:
                raise ValueError(f"{name}={value!r}: {problem}")
            with self._quiet():
                setattr(self, name, value)
            if name == "layer":
                self._session.set_layer(value)
            if name in ("site", "target", "rule"):
                self._refresh_channels()
        self._show_class_name(None)
        self._show_top_class(None)

    def _build_views(self) -> None:
        size = self.panel_size
        self.rows = tuple(PanelStrip(names, size) for names in (MAP_ROW, MASK_ROW))
        # The comparison row: three maps at the panel size, or four (with the Grad-CAM heat
        # map) sized to the same row width.
        self.comparisons = {
            False: PanelStrip(COMPARED_RULES, size),
            True: PanelStrip((*COMPARED_RULES, "cam"), (3 * size - GAP) // 4),
        }
        for strip in self.comparisons.values():
            strip.widget.layout.display = "none"
        self.grid = GridCanvas()
        self.status = widgets.HTML()
        self.readout_view = widgets.HTML(layout=widgets.Layout(height="3.2em", overflow="hidden"))
        self.controls = Controls()
        for strip in self.rows:
            strip.on_hover(lambda x, y, strip=strip: self._hover(strip, x, y))
            strip.on_leave(lambda x, y: self._crosshair(None, None))
            strip.on_click(lambda x, y, strip=strip: self.click(strip, x, y))
            strip.on_key(self._key)
        self.grid.canvas.on_mouse_down(self._click_grid)
        self.sanity = SanityTab()
        explore = widgets.VBox(
            [
                self.controls.widget,
                self.status,
                *(strip.widget for strip in self.rows),
                *(strip.widget for strip in self.comparisons.values()),
                self.readout_view,
                widgets.HTML(
                    "<b>product mask, channels ranked by how much they pass</b> "
                    "(click one to show it; click a mask pixel to explain that unit)"
                ),
                self.grid.canvas,
            ]
        )
        self.tabs = widgets.Tab(
            children=[explore, self.sanity.widget], titles=["explore", "sanity"]
        )
        self.children = [self.tabs]

    def _wire(self) -> None:
        c = self.controls
        pairs = [
            (c.image, "image"),
            (c.model, "model_name"),
            (c.rule, "rule"),
            (c.layer, "layer"),
            (c.display, "display"),
            (c.percentile, "percentile"),
            (c.site_slider, "site"),
            (c.site_name, "site"),
            (c.channel, "channel"),
            (c.class_index, "target"),
            (c.target_kind, "target_kind"),
            (c.compare, "compare"),
        ]
        for control, name in pairs:
            self._bind(control, name)
        c.top.observe(self._pick_top_class, "value")
        self.observe(self._show_top_class, "target")
        self.observe(self._show_class_name, ["target", "target_kind"])
        c.class_name.observe(self._pick_class_by_name, "value")
        c.upload.observe(self._upload, "value")
        c.save.on_click(lambda _: self.save_png())
        self.sanity.run_button.on_click(lambda _: self.run_sanity())
        self.observe(self._on_image, "image")
        self.observe(self._on_model, "model_name")
        self.observe(self._on_layer, "layer")
        self.observe(self._on_backward_trait, list(_BACKWARD_TRAITS))
        self.observe(self._on_render_trait, list(_RENDER_TRAITS))

    # -- reacting to changes ------------------------------------------------------------

    def _on_image(self, change) -> None:
        if change.new != CUSTOM:
            self._guarded(change, lambda: self._session.set_image(sample_image(change.new)))

    def _on_model(self, change) -> None:
        if change.new != CUSTOM:
            self._guarded(change, lambda: self._switch_model(change.new))

    def _on_layer(self, change) -> None:
        self._guarded(change, lambda: self._session.set_layer(change.new))

    def _on_backward_trait(self, change) -> None:
        # The channel ranking follows the masks, which follow the target and rule: it is
        # refreshed by the (coalesced) redraw, not here, so a burst costs one pass.
        if not self._quiet:
            self._channels_stale = True
            self._clear_status()
        self._request_draw()

    def _on_render_trait(self, change) -> None:
        if not self._quiet:
            if change.name == "site":
                self._channels_stale = True
            self._clear_status()
        self._request_draw()

    @traitlets.validate(
        "target", "site", "channel", "rule", "display", "percentile", "layer", "image", "model_name"
    )
    def _validate_choice(self, proposal):
        """Bad values never get in: the problem is shown and the current value kept."""
        name, value = proposal.trait.name, proposal.value
        problem = self._problem(name, value) if hasattr(self, "_session") else ""
        if problem:
            self._report(problem)
            return getattr(self, name)
        return value

    def _bind(self, control: widgets.Widget, name: str) -> None:
        """Keep ``control.value`` and trait ``name`` equal, both ways.

        Unlike ``widgets.link``, a value the trait refuses (1500 typed into the class
        box, say) is replaced in the control by the value kept, so the control never
        shows what the explorer is not doing.
        """

        def to_trait(change) -> None:
            if self._quiet:
                return
            setattr(self, name, change.new)
            if getattr(self, name) != change.new:
                with self._quiet():
                    control.value = getattr(self, name)

        def to_control(change) -> None:
            if control.value != change.new:
                with self._quiet():
                    control.value = change.new

        control.value = getattr(self, name)
        control.observe(to_trait, "value")
        self.observe(to_control, name)

    def _problem(self, name: str, value) -> str:
        """What is wrong with ``value`` for trait ``name`` ("" when nothing is)."""
        channels = len(self.controls.channel.options) - 1
        problem = self._session.problem(name, value, channels)
        if problem:
            return problem
        if name == "display" and value not in DISPLAY_LABELS:
            return f"unknown display {value!r}: use one of {', '.join(DISPLAY_LABELS)}"
        low, high = self.controls.percentile.min, self.controls.percentile.max
        if name == "percentile" and not low <= value <= high:
            return f"clip percentile {value} must be between {low:g} and {high:g}"
        if name == "target_kind" and value not in ("class", "channel", "unit"):
            return f"unknown target kind {value!r}: use 'class', 'channel' or 'unit'"
        choices = {
            "layer": self.controls.layer,
            "image": self.controls.image,
            "model_name": self.controls.model,
        }
        if name in choices and value not in choices[name].options:
            what = {"layer": "module called", "image": "sample image", "model_name": "model"}[name]
            return f"no {what} {value!r}: choose one from the {name} menu"
        return ""

    def _switch_model(self, name: str) -> None:
        picture = Image.fromarray(self._session.picture)
        self._session = _session_of(load_model(name), picture)

    def _upload(self, change) -> None:
        files = change.new
        if not files:
            return
        upload = files[-1]
        content = upload["content"] if isinstance(upload, dict) else upload.content
        try:
            self._session.set_image(load_image(bytes(content)))
        except Exception as err:  # noqa: BLE001 - a bad file must not break the explorer
            self._report(f"that upload could not be shown ({_describe(err)})")
            return
        with self._quiet():
            self.image = CUSTOM
        self._after_new_input()
        self._request_draw()

    def _pick_class_by_name(self, change) -> None:
        if self._quiet or not change.new:
            return
        classes = self._session.classes
        if change.new in classes:
            self.target = classes.index(change.new)
            self.target_kind = "class"
            return
        self._report(unknown_class_message(change.new, classes))
        self._show_class_name(None)

    def _show_class_name(self, change) -> None:
        """Keep the name box on the class explained (empty for a channel target)."""
        name = self._session.class_name(self.target) if self.target_kind == "class" else ""
        with self._quiet():
            self.controls.class_name.value = name

    def _pick_top_class(self, change) -> None:
        if not self._quiet and change.new is not None and change.new != self.target:
            self.target = change.new
            self.target_kind = "class"

    def _show_top_class(self, change) -> None:
        top = self.controls.top
        shown = [value for _, value in top.options]
        with self._quiet():
            top.index = shown.index(self.target) if self.target in shown else None

    # -- state changes that succeed or are undone ---------------------------------------

    def _guarded(self, change, action) -> None:
        if self._quiet:
            return
        try:
            action()
        except Exception as err:  # noqa: BLE001 - the explorer outlives any bad input
            self._refuse(change, _describe(err))
            return
        self._clear_status()
        if change.name in ("image", "model_name"):
            self._after_new_input()
        self._request_draw()

    def _refuse(self, change, problem: str) -> None:
        self._report(problem)
        with self._quiet():
            self.set_trait(change.name, change.old)

    def _report(self, problem: str) -> None:
        self.message = problem
        self.status.value = f"<span style='color:#b00020'>&#9888; {html.escape(problem)}</span>"

    def _clear_status(self) -> None:
        """A new action clears the last message; the coverage warning stays while true."""
        self.message = ""
        coverage = self._session.coverage("guided") if hasattr(self, "_session") else ""
        self.status.value = (
            f"<span style='color:#8a6d00'>&#9888; {html.escape(coverage)}</span>"
            if coverage
            else ""
        )

    def _after_new_input(self) -> None:
        """New image or model: fresh choices for targets, sites and layers."""
        session = self._session
        top = session.top_classes(5)
        c = self.controls
        with self._quiet(), self.hold_trait_notifications():
            c.top.options = [(f"{name} {100 * p:.1f}%", index) for index, name, p in top]
            c.class_name.options = list(session.classes)
            names = session.site_names
            c.site_slider.max = max(len(names) - 1, 0)
            c.site_name.options = [(name, i) for i, name in enumerate(names)] or [("-", 0)]
            c.layer.options = ["auto", *_layer_choices(session.engine.model)]
            self.target = top[0][0]
            self.site = min(self.site, max(len(names) - 1, 0))
        self._show_class_name(None)
        self._refresh_channels()
        self.readout_view.value = ""
        self._clear_status()

    def _refresh_channels(self) -> None:
        self._channels_stale = False
        session = self._session
        if not session.site_names:
            options = [("all channels", ALL_CHANNELS)]
        else:
            ranking = session.channel_ranking(session.result(self._target(), self.rule), self.site)
            options = [("all channels", ALL_CHANNELS)] + [
                (f"{c}: {100 * share:.0f}% pass", c) for c, share in ranking
            ]
        keep = self.channel if any(v == self.channel for _, v in options) else ALL_CHANNELS
        with self._quiet():
            self.controls.channel.options = options
            self.controls.channel.value = keep
            self.channel = keep

    # -- drawing ------------------------------------------------------------------------

    def _target(self) -> int | Neuron:
        if self.target_kind in ("channel", "unit") and self._session.site_names:
            name = self._session.site_names[self.site]
            channel = self.channel if self.channel != ALL_CHANNELS else self._top_channel()
            if self.target_kind == "unit" and self._unit_fits():
                return Neuron(name, channel, y=self.unit[0], x=self.unit[1])
            return Neuron(name, channel)
        return self.target

    def _unit_fits(self) -> bool:
        """Whether :attr:`unit` is a position at the shown site (after a site change it
        may not be: the whole channel is explained then)."""
        shape = self._session.recording.sites[self.site].shape
        return (
            len(self.unit) == 2
            and len(shape) == 4
            and 0 <= self.unit[0] < shape[2]
            and 0 <= self.unit[1] < shape[3]
        )

    def _top_channel(self) -> int:
        result = self._session.result(self.target, "guided")
        return self._session.channel_ranking(result, self.site)[0][0]

    def view(self) -> View:
        """The current choices, as the session takes them."""
        return View(
            target=self._target(),
            rule=self.rule,
            display=self.display,
            percentile=self.percentile,
            site=self.site,
            channel=self.channel,
        )

    def _request_draw(self) -> None:
        if not self._quiet:
            self._scheduler.submit(self._draw)

    def _draw(self) -> None:
        """Redraw everything; any failure is reported and the last good picture stays,
        so no exception escapes into the kernel's event loop."""
        try:
            if self._channels_stale:
                self._refresh_channels()
            view = self.view()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pictures = self._session.panels(view, self.panel_size)
            captions = self._captions(view)
            for strip in self.rows:
                strip.draw(pictures, captions)
            self.grid.draw(pictures["grid"])
            self._draw_comparison(view)
        except Exception as err:  # noqa: BLE001 - keep showing the last good picture
            self._report(_describe(err))
            return
        self.panels = {
            name: render.fit(picture, self.panel_size) if name in PANELS else picture
            for name, picture in pictures.items()
        }
        self._shown = view

    def _draw_comparison(self, view: View) -> None:
        with_cam = view.rule == "gradcam"
        for has_cam, strip in self.comparisons.items():
            strip.widget.layout.display = "" if self.compare and has_cam == with_cam else "none"
        if not self.compare:
            self.comparison = {}
            return
        strip = self.comparisons[with_cam]
        pictures = self._session.compare_panels(view, strip.size)
        words = target_words(view.target, self._session.class_name)
        captions = {rule: f"{RULE_LABELS[rule]}: {words}" for rule in COMPARED_RULES}
        captions["cam"] = "Grad-CAM heat map"
        strip.draw(pictures, captions)
        self.comparison = pictures

    def _captions(self, view: View) -> dict[str, str]:
        names = self._session.site_names
        site = names[view.site] if names else ""
        layer = self._session.result(view.target, view.rule).layer if view.rule == "gradcam" else ""
        return captions(view, site, self._session.class_name, layer)

    def _hover(self, strip: PanelStrip, x: float, y: float) -> None:
        spot = strip.locate(x, y)
        if spot is None or self._shown is None:
            return
        _, row, column = spot
        self._crosshair(row, column)
        values = self._session.readout(self._shown, row, column, self.panel_size)
        self.readout_view.value = readout_html(values)

    def _crosshair(self, row: int | None, column: int | None) -> None:
        for strip in self.rows:
            strip.crosshair(row, column)

    def click(self, strip: PanelStrip, x: float, y: float) -> None:
        """A click at canvas point ``(x, y)`` of ``strip``: on a mask or the activation
        panel, explain from the unit under it (at the chosen channel, or the most active
        channel there when all are shown)."""
        spot = strip.locate(x, y)
        if spot is None or spot[0] not in (*MASK_ROW, "activation"):
            return
        session = self._session
        if not session.site_names:
            return
        shape = session.recording.sites[self.site].shape
        if len(shape) != 4:
            self._report(
                f"the units at {session.site_names[self.site]} have no position "
                f"(shape {tuple(shape)}): pick a channel instead"
            )
            return
        output = session.site_output(self.site)
        _, height, width = output.shape
        unit_y = min(spot[1] * height // self.panel_size, height - 1)
        unit_x = min(spot[2] * width // self.panel_size, width - 1)
        channel = self.channel
        if channel == ALL_CHANNELS:
            channel = int(output[:, unit_y, unit_x].argmax())
        with self.hold_trait_notifications():
            self.channel = channel
            self.unit = (unit_y, unit_x)
            self.target_kind = "unit"

    def _click_grid(self, x: float, y: float) -> None:
        """A click on a tile of the channel grid shows that channel."""
        channel = self._session.grid_channel(self._shown_result(), self.site, int(y), int(x))
        if channel is not None:
            self.channel = channel

    def _shown_result(self):
        view = self._shown or self.view()
        return self._session.result(view.target, view.rule)

    def _key(self, key: str, *modifiers) -> None:
        """Arrow keys with the canvas focused: left/right step the channel, up/down the site."""
        if key not in _KEY_STEPS:
            return
        name, step = _KEY_STEPS[key]
        if name == "site":
            self.site = min(max(self.site + step, 0), max(len(self.site_names) - 1, 0))
            return
        values = [value for _, value in self.controls.channel.options]
        position = values.index(self.channel) if self.channel in values else 0
        self.channel = values[min(max(position + step, 0), len(values) - 1)]

    # -- reading the explorer from code -------------------------------------------------

    @property
    def site_names(self) -> list[str]:
        """The ReLU sites of the model on this image, in forward order."""
        return self._session.site_names

    @property
    def classes(self) -> tuple[str, ...]:
        return self._session.classes

    def refresh(self) -> dict[str, np.ndarray]:
        """Finish any pending redraw now and return :attr:`panels`."""
        self._scheduler.flush()
        return self.panels

    def readout(self, row: int, column: int) -> dict[str, object]:
        """The hover read-out for panel pixel ``(row, column)``, without a mouse."""
        self.refresh()
        return self._session.readout(self._shown, row, column, self.panel_size)

    def figure(self) -> NotebookFigure:
        """A matplotlib figure of the panels shown, titled with the top classes."""
        pictures = self.refresh()
        captions = self._captions(self._shown)
        shown = {captions[name]: pictures[name] for name in PANELS}
        probabilities = self._session.probabilities
        note = (
            "mask panels: the fraction of the site's channels on at each position "
            "(black 0, white 1)"
            if self._shown.channel == ALL_CHANNELS
            else "mask panels: white where the unit is on"
        )
        title = top_classes_title(probabilities, self._session.classes)
        return panel_figure(shown, title, note=note)

    def run_sanity(self, max_steps: int | None = None):
        """Cascading randomisation of the shown model on the shown image, for the class
        target (see the "sanity" tab); returns the :class:`~gbp_widgets.sanity.SanityResult`."""
        session = self._session
        try:
            return self.sanity.run(session.engine.model, session.inputs, self.target, max_steps)
        except Exception as err:  # noqa: BLE001 - a failed run must not break the explorer
            self._report(f"the sanity check failed ({_describe(err)})")
            return None

    def save_png(self, path: str | os.PathLike | None = None) -> Path:
        """Save :meth:`figure` as a PNG (``gbp-explorer.png`` by default); return its path."""
        out = Path(path or "gbp-explorer.png")
        self.figure().savefig(out, dpi=110)
        self.status.value = f"saved {html.escape(str(out))}"
        self.message = ""
        return out


def _session_of(loaded, picture: Image.Image) -> ExplorerSession:
    """A session for a :func:`load_model` result."""
    return ExplorerSession(loaded.model, loaded.preprocess, loaded.classes, picture)


def _as_picture(image: object) -> Image.Image | torch.Tensor:
    if isinstance(image, (Image.Image, torch.Tensor)):
        return image
    return load_image(image)


def _layer_choices(model: nn.Module) -> list[str]:
    """Module paths worth offering for Grad-CAM: containers and convolutions."""
    return [
        path
        for path, module in model.named_modules()
        if path and (len(module._modules) or isinstance(module, nn.modules.conv._ConvNd))
    ]


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"
