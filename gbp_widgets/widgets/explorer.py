"""The Explorer: guided backprop and every ReLU's masks, live in a notebook, for any model.

Traits and wiring only: what may be set is :mod:`gbp_widgets.explore.state`, what
is computed and drawn is :class:`gbp_widgets.explore.ExplorerSession` and its
views, and the canvases are :mod:`gbp_widgets.widgets.canvas`.
"""

from __future__ import annotations

import base64
import html
import io
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
from gbp_widgets.colour_keys import (
    ACTIVATION_KEY,
    MASK_KEY,
    ColourKey,
    LabelKey,
    clip_note,
    display_key,
)
from gbp_widgets.engine import Explanation, Neuron, Region
from gbp_widgets.explore import (
    ALL_CHANNELS,
    COMPARED_RULES,
    CUSTOM,
    MAP_PANELS,
    MASK_PANELS,
    RULE_LABELS,
    STATE,
    Cut,
    DetectionScore,
    Effect,
    ExplorerSession,
    View,
    picture_inputs,
    problem,
    traits_with,
    unknown_class_message,
)
from gbp_widgets.figures import NotebookFigure, panel_figure, top_classes_title
from gbp_widgets.images import SAMPLE_NAMES, load_image, sample_image
from gbp_widgets.models import DEFAULT_MODEL, Preprocessing, load_model
from gbp_widgets.widgets.ahead import PicturesAhead
from gbp_widgets.widgets.binding import bind
from gbp_widgets.widgets.canvas import GAP, GridCanvas, PanelStrip
from gbp_widgets.widgets.controls import Controls
from gbp_widgets.widgets.latest import LatestOnly
from gbp_widgets.widgets.quiet import Quiet
from gbp_widgets.widgets.sanity_tab import SanityTab
from gbp_widgets.widgets.text import (
    GRID_CAPTION,
    captions,
    key_html,
    readout_html,
    target_words,
)

# The picture saved beside the widget for pages without a kernel: small enough that a
# notebook does not grow by more than about 300 kB per Explorer shown.
STATIC_DPI = 72

# Arrow keys on the canvas: left/right step the channel, up/down the site.
_KEY_STEPS = {"ArrowLeft": ("channel", -1), "ArrowRight": ("channel", 1)}
_KEY_STEPS |= {"ArrowUp": ("site", -1), "ArrowDown": ("site", 1)}
# Trait -> control, bound both ways.
_BOUND = {
    "image": "image",
    "model_name": "model",
    "item": "item",
    "input_index": "input_index",
    "axis": "axis",
    "slice": "slice",
    "rule": "rule",
    "layer": "layer",
    "display": "display",
    "percentile": "percentile",
    "site": ("site_slider", "site_name"),
    "channel": "channel",
    "target": "class_index",
    "target_kind": "target_kind",
    "detection": "detection",
    "score_threshold": "score_threshold",
    "compare": "compare",
}


class Explorer(widgets.VBox):
    """Explore Gradients, DeconvNet and Guided Backprop, down to each ReLU's masks.

    ``Explorer()`` opens the offline default model on a sample photo.
    ``Explorer(model=m, inputs=x)`` explores your own model on what
    :meth:`GuidedBackprop.explain` takes: an image ``(N, 1|3, H, W)``, a
    signal ``(N, C, L)``, a volume ``(N, C, D, H, W)``, a table ``(N, F)``, or a
    tuple of them; ``item`` chooses which of the ``N`` is shown. ``output``,
    ``forward_args`` and ``forward_kwargs`` are the engine's. For pictures,
    ``image=`` takes a sample name, path, bytes, PIL image or model-ready
    ``(3, H, W)`` tensor, and ``preprocess`` turns pictures into inputs
    (ImageNet's by default). ``kind`` shows a table row as a ``"signal"`` or a
    signal as a ``"table"``. Trait values (``target=``, ``rule=``, ...) may be
    given too. :attr:`explanation` is the engine's answer behind the picture;
    :attr:`panels` holds the pictures drawn.
    """

    image = traitlets.Unicode("chelsea", help="sample photo name, or 'custom'")
    model_name = traitlets.Unicode(DEFAULT_MODEL, help="load_model name, or 'custom'")
    item = traitlets.Int(0, help="which item of the inputs is shown")
    input_index = traitlets.Int(0, help="which input's attribution is shown")
    axis = traitlets.Int(0, help="volumes: the axis cut (0 depth, 1 height, 2 width)")
    slice = traitlets.Int(0, help="volumes: the index of the slice shown along axis")
    target = traitlets.Union(
        [traitlets.Int(), traitlets.Unicode()],
        default_value=0,
        help="class explained when target_kind is 'class': an index, or a name (kept as its index)",
    )
    target_kind = traitlets.Unicode(
        "class", help="'class', 'channel' or 'unit' at the site, 'region' or 'detection'"
    )
    unit = traitlets.Tuple((), help="position at the site of the unit explained, for 'unit'")
    region = traitlets.Instance(Region, allow_none=True, help="Region(cls, mask), for 'region'")
    detection = traitlets.Int(None, allow_none=True, help="detection index, for 'detection'")
    score_threshold = traitlets.Float(0.5, help="detections scoring less are not shown")
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
        inputs: torch.Tensor | tuple[torch.Tensor, ...] | None = None,
        output: object = None,
        forward_args: tuple = (),
        forward_kwargs: dict | None = None,
        classes: list[str] | tuple[str, ...] | None = None,
        feature_names: list[str] | tuple[str, ...] | None = None,
        *,
        image: object = None,
        preprocess: Preprocessing | None = None,
        kind: str | None = None,
        panel_size: int = 224,
        **kwargs,
    ) -> None:
        # Trait values given by name (target=, rule=, site=, ...) are applied once the
        # model and inputs are known, and checked like any other value.
        requested = {name: kwargs.pop(name) for name in STATE if name in kwargs}
        if kwargs:
            raise TypeError(f"Explorer got unexpected arguments: {', '.join(kwargs)}")
        super().__init__()
        self.panel_size = panel_size
        self._scheduler = LatestOnly()
        self._quiet = Quiet()
        self._channels_stale = False
        self._shown: View | None = None
        self.panels: dict[str, np.ndarray] = {}
        self._scaled: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.comparison: dict[str, np.ndarray] = {}
        engine_args = dict(
            output=output,
            forward_args=forward_args,
            forward_kwargs=forward_kwargs,
            classes=classes,
            feature_names=feature_names,
            kinds=(kind,) if kind else None,
            preprocess=preprocess,
        )
        self.session = _open(model, inputs, image, engine_args)
        sample = image if isinstance(image, str) and image in SAMPLE_NAMES else None
        with self._quiet():
            if image is None and inputs is None:
                sample = self.image
            self.set_trait("image", sample or CUSTOM)
            if model is not None:
                self.set_trait("model_name", CUSTOM)
        self._build()
        self._wire()
        self._after_new_input()
        self._apply(requested)
        self._request_draw()

    # -- construction -------------------------------------------------------------------

    def _apply(self, requested: dict[str, object]) -> None:
        """Set the trait values given to the constructor, or raise saying which is wrong."""
        for name in STATE:
            if name not in requested:
                continue
            value = requested[name]
            found = problem(name, value, self.session, self._state())
            if found:
                raise ValueError(f"{name}={value!r}: {found}")
            setattr(self, name, value)
        self._scheduler.flush()

    def _build(self) -> None:
        size = self.panel_size
        self.controls = Controls()
        self.status = widgets.HTML()
        self.readout_view = widgets.HTML(layout=widgets.Layout(height="3.2em", overflow="hidden"))
        # The comparison row: three maps at the panel size, or four (with the Grad-CAM heat
        # map) sized to the same row width.
        self.comparisons = {
            False: PanelStrip(COMPARED_RULES, size),
            True: PanelStrip((*COMPARED_RULES, "cam"), (3 * size - GAP) // 4),
        }
        for strip in self.comparisons.values():
            strip.widget.layout.display = "none"
        self.grid = GridCanvas()
        self.grid.canvas.on("down", self._click_grid)
        self.rows_box = widgets.VBox()
        self.rows: tuple[PanelStrip, ...] = ()
        self.sanity = SanityTab()
        explore = widgets.VBox(
            [
                self.controls.widget,
                self.status,
                self.rows_box,
                *(strip.widget for strip in self.comparisons.values()),
                self.readout_view,
                widgets.HTML(
                    f"<b>{GRID_CAPTION}</b> "
                    "(click one to show it; click a mask pixel to explain that unit)"
                ),
                self.grid.canvas,
            ]
        )
        self.tabs = widgets.Tab(
            children=[explore, self.sanity.widget], titles=["explore", "sanity"]
        )
        self.children = [self.tabs]

    def _build_rows(self) -> None:
        """The two rows of panels; a dense output adds its label map to the first."""
        names = self.panel_names()
        rows = (names[: len(names) - len(MASK_PANELS)], MASK_PANELS)
        if self.rows and tuple(strip.names for strip in self.rows) == rows:
            return
        self.rows = tuple(PanelStrip(row, self.panel_size) for row in rows)
        for strip in self.rows:
            strip.on_hover(lambda x, y, strip=strip: self._hover(strip, x, y))
            strip.on_leave(lambda x, y: self._crosshair(None, None))
            strip.on_click(lambda x, y, strip=strip: self.click(strip, x, y))
            strip.on_key(self._key)
        self.rows_box.children = [strip.widget for strip in self.rows]

    def panel_names(self) -> tuple[str, ...]:
        """The panels shown, in order."""
        dense = self.session.output_kind == "dense"
        maps = ("input", "output", "attribution", "activation") if dense else MAP_PANELS
        return (*maps, *MASK_PANELS)

    def _wire(self) -> None:
        c = self.controls
        bound = {
            name: tuple(
                getattr(c, part) for part in ((parts,) if isinstance(parts, str) else parts)
            )
            for name, parts in _BOUND.items()
        }
        for name, controls in bound.items():
            for control in controls:
                bind(self, name, control, self._quiet)
        # Every control that changes the picture is watched by the pictures ahead: the
        # bound ones, and the two that pick a class through the kernel (the top-5 buttons
        # also show a class ahead).
        picks = {"target": (*bound["target"], c.top), "class_name": (c.class_name,)}
        self._ahead = PicturesAhead({**bound, **picks})
        c.top.observe(self._pick_top_class, "value")
        self.observe(self._show_top_class, "target")
        self.observe(self._show_class_name, ["target", "target_kind"])
        c.class_name.observe(self._pick_class_by_name, "value")
        c.upload.observe(self._upload, "value")
        c.save.on_click(lambda _: self.save_png())
        self.sanity.run_button.on_click(lambda _: self.run_sanity())
        self.observe(self._on_input_trait, list(traits_with(Effect.INPUT)))
        self.observe(self._on_backward_trait, list(traits_with(Effect.BACKWARD)))
        self.observe(self._on_render_trait, list(traits_with(Effect.RENDER)))

    # -- reacting to changes ------------------------------------------------------------

    @traitlets.validate(*STATE)
    def _validate(self, proposal):
        """Bad values never get in: the problem is shown and the current value kept."""
        name, value = proposal.trait.name, proposal.value
        if not hasattr(self, "session") or self._quiet:
            return value
        if name == "image" and value not in (*SAMPLE_NAMES, CUSTOM):
            # A path, as the constructor takes: shown at once, listed as "custom".
            return CUSTOM if self._show_file(value) else self.image
        found = problem(name, value, self.session, self._state())
        if found:
            self._report(found)
            return getattr(self, name)
        if name == "target" and isinstance(value, str):
            return self.session.classes.index(value)
        return value

    def _state(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in STATE}

    def _on_input_trait(self, change) -> None:
        if self._quiet:
            return
        actions = {
            "image": lambda: (
                change.new != CUSTOM and self.session.set_image(sample_image(change.new))
            ),
            "model_name": lambda: change.new != CUSTOM and self._switch_model(change.new),
            "item": lambda: self.session.set_item(change.new),
            "layer": lambda: self.session.set_layer(change.new),
        }
        try:
            actions[change.name]()
        except Exception as err:  # noqa: BLE001 - the explorer outlives any bad input
            self._report(_describe(err))
            with self._quiet():
                self.set_trait(change.name, change.old)
            return
        if change.name != "layer":
            self._after_new_input()
        self._clear_status()
        self._request_draw()

    def _on_backward_trait(self, change) -> None:
        # The channel ranking follows the masks, which follow the target and rule: it is
        # refreshed by the (coalesced) redraw, not here, so a burst costs one pass.
        if change.name == "score_threshold":
            self.session.score_threshold = change.new
            self._offer_detections()
        if not self._quiet:
            self._channels_stale = True
            self._clear_status()
        self._request_draw()

    def _on_render_trait(self, change) -> None:
        if not self._quiet:
            if change.name in ("site", "axis", "slice"):
                self._channels_stale = True
            if change.name == "input_index":
                displays = self.session.views[change.new].displays
                self.controls.offer_displays(displays)
                if self.display not in displays:
                    self.display = displays[0]
            self._clear_status()
        self._request_draw()

    def _switch_model(self, name: str) -> None:
        if self.session.kind == "image" and not self.session.as_tuple:
            picture = Image.fromarray(self.session.photo())
        else:
            picture = sample_image(SAMPLE_NAMES[0])
        self.session = _session_of(load_model(name), picture)

    def _upload(self, change) -> None:
        files = change.new
        if not files:
            return
        upload = files[-1]
        content = upload["content"] if isinstance(upload, dict) else upload.content
        if self._show_file(bytes(content), "that upload could not be shown"):
            with self._quiet():
                self.image = CUSTOM

    def _show_file(self, source, failure: str = "that picture could not be shown") -> bool:
        """Show the picture at path ``source`` (or in its bytes); on failure say why and
        keep the current one. Whether it is shown."""
        try:
            self.session.set_image(load_image(source))
        except Exception as err:  # noqa: BLE001 - a bad file must not break the explorer
            self._report(f"{failure} ({_describe(err)})")
            return False
        self._after_new_input()
        self._request_draw()
        return True

    def _pick_class_by_name(self, change) -> None:
        if self._quiet or not change.new:
            return
        classes = self.session.classes
        if change.new in classes:
            self.target = classes.index(change.new)
            if self.target_kind not in ("class", "region"):
                self.target_kind = "class"
            return
        self._report(unknown_class_message(change.new, classes))
        self._show_class_name(None)

    def _show_class_name(self, change) -> None:
        """Keep the name box on the class explained (empty for a channel target)."""
        name = self.session.class_name(self.target) if self.target_kind == "class" else ""
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

    # -- messages -----------------------------------------------------------------------

    def _report(self, problem_text: str) -> None:
        self.message = problem_text
        self.status.value = (
            f"<span style='color:#b00020'>&#9888; {html.escape(problem_text)}</span>"
        )

    def _clear_status(self) -> None:
        """A new action clears the last message; the coverage warning stays while true."""
        self.message = ""
        coverage = self.session.coverage("guided")
        self.status.value = (
            f"<span style='color:#8a6d00'>&#9888; {html.escape(coverage)}</span>"
            if coverage
            else ""
        )

    def _after_new_input(self) -> None:
        """New inputs, item or model: fresh choices for targets, sites and layers."""
        session = self.session
        c = self.controls
        with self._quiet(), self.hold_trait_notifications():
            c.offer(session)
            top = session.top_classes(5)
            c.top.options = [(f"{name} {100 * p:.1f}%", index) for index, name, p in top] or [
                ("-", 0)
            ]
            c.class_name.options = list(session.classes)
            names = session.site_names
            c.site_slider.max = max(len(names) - 1, 0)
            c.site_name.options = [(name, i) for i, name in enumerate(names)] or [("-", 0)]
            c.layer.options = ["auto", *session.layer_choices()]
            c.slice.max = max(self._extent() - 1, 0)
            self._keep_valid()
            c.offer_displays(session.views[self.input_index].displays)
            # New options may have moved a control off its trait's value: show the state.
            for name, control in _BOUND.items():
                for part in (control,) if isinstance(control, str) else control:
                    getattr(c, part).value = getattr(self, name)
        self._offer_detections()
        self._build_rows()
        self._show_class_name(None)
        self._refresh_channels()
        self.readout_view.value = ""
        self._clear_status()

    def _offer_detections(self) -> None:
        """The detection menu: boxes scoring at least the threshold, the chosen one kept
        while it is there, else the best."""
        if self.session.output_kind != "detection":
            return
        found = self.session.top_classes(len(self.session.detections()))
        with self._quiet():
            self.controls.detection.options = [
                (f"#{index} {name} {score:.2f}", index) for index, name, score in found
            ] or [("-", None)]
            indices = [index for index, _, _ in found]
            self.detection = (
                self.detection if self.detection in indices else (indices[0] if indices else None)
            )
            self.controls.detection.value = self.detection

    def _keep_valid(self) -> None:
        """After new inputs: the predicted class, and every other trait kept where it
        still fits, else back to its first choice."""
        session = self.session
        detector = session.output_kind == "detection"
        if not detector:
            self.target = session.first_class()
        # The best detection is chosen again by _offer_detections.
        self.detection = None
        self.region = None
        self.unit = ()
        kinds = session.target_kinds()
        if self.target_kind not in kinds or self.target_kind in ("region", "detection"):
            self.target_kind = kinds[0]
        self.site = min(self.site, max(len(session.site_names) - 1, 0))
        self.input_index = min(self.input_index, len(session.views) - 1)
        displays = session.views[self.input_index].displays
        if self.display not in displays:
            self.display = displays[0]
        if self.rule == "gradcam" and problem("rule", "gradcam", session, self._state()):
            self.rule = "guided"
        self.slice = min(self.slice, max(self._extent() - 1, 0))

    def _extent(self) -> int:
        slices = self.session.views[self.input_index].slices
        return slices[self.axis] if slices else 1

    def _refresh_channels(self) -> None:
        self._channels_stale = False
        session = self.session
        options = [("all channels", ALL_CHANNELS)]
        try:
            if session.site_names:
                result = session.result(self._target(), self._backward_rule())
                ranking = session.channel_ranking(result, self.site)
                options += [(f"{c}: {100 * share:.0f}% pass", c) for c, share in ranking]
        except Exception as err:  # noqa: BLE001 - nothing to rank: say why, keep working
            self._report(_describe(err))
        keep = self.channel if any(v == self.channel for _, v in options) else ALL_CHANNELS
        with self._quiet():
            self.controls.channel.options = options
            self.controls.channel.value = keep
            self.channel = keep
            self.controls.slice.max = max(self._extent() - 1, 0)

    def _backward_rule(self) -> str:
        return "guided" if self.rule == "gradcam" else self.rule

    # -- what is explained and drawn ----------------------------------------------------

    def _target(self) -> int | Neuron | Region | DetectionScore | None:
        session = self.session
        if self.target_kind in ("channel", "unit") and session.site_names:
            name = session.site_names[self.site]
            channel = self.channel if self.channel != ALL_CHANNELS else self._top_channel()
            if self.target_kind == "unit" and self._unit_fits():
                if len(self.unit) == 2:
                    return Neuron(name, channel, y=self.unit[0], x=self.unit[1])
                return (
                    Neuron(name, channel, position=self.unit)
                    if self.unit
                    else Neuron(name, channel)
                )
            return Neuron(name, channel)
        return self._output_target()

    def _output_target(self) -> int | Region | DetectionScore | None:
        """What is explained at the output: the region, detection or class chosen."""
        session = self.session
        if self.target_kind == "region" and self.region is not None:
            return self.region
        if session.output_kind == "detection":
            if self.detection is None:
                raise ValueError(
                    f"no detection scores at least {self.score_threshold:g}: lower the min score"
                )
            return DetectionScore(self.detection)
        return session.class_target(self.target)

    def _unit_fits(self) -> bool:
        """Whether :attr:`unit` is a position at the shown site (after a site change it
        may not be: the whole channel is explained then)."""
        return not problem("unit", self.unit, self.session, self._state())

    def _top_channel(self) -> int:
        result = self.session.result(self._output_target(), "guided")
        return self.session.channel_ranking(result, self.site)[0][0]

    def view(self) -> View:
        """The current choices, as the session takes them."""
        shown = self.session.views[self.input_index]
        chosen = self.region if self.target_kind == "region" else None
        if self.session.output_kind == "detection":
            chosen = self.detection
        return View(
            target=self._target(),
            rule=self.rule,
            display=self.display,
            percentile=self.percentile,
            site=self.site,
            channel=self.channel,
            cut=Cut(self.axis, self.slice, shown.slices[self.axis] if shown.slices else 1),
            input_index=self.input_index,
            chosen=chosen,
        )

    def _request_draw(self) -> None:
        if not self._quiet:
            self._ahead.cancel()
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
                pictures = self.session.panels(view, self.panel_size)
            words = self._captions(view)
            fitted = self._fitted(pictures)
            keys = {name: key_html(key, self.panel_size) for name, key in self._keys(view).items()}
            for strip in self.rows:
                strip.draw(pictures, words, fitted, keys)
            self.grid.draw(pictures["grid"])
            self._draw_comparison(view)
        except Exception as err:  # noqa: BLE001 - keep showing the last good picture
            self._report(_describe(err))
            return
        self.panels = fitted
        self._shown = view
        self._ahead.start(self, view, pictures)

    def _fitted(self, pictures: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The pictures at the panel size; one that did not change is not scaled again
        (scaling every panel on every redraw cost a third of a site change)."""
        fitted = {}
        for name, picture in pictures.items():
            source, scaled = self._scaled.get(name, (None, None))
            if source is not picture:
                scaled = picture if name == "grid" else render.fit(picture, self.panel_size)
                self._scaled[name] = (picture, scaled)
            fitted[name] = scaled
        return fitted

    def _draw_comparison(self, view: View) -> None:
        with_cam = view.rule == "gradcam"
        for has_cam, strip in self.comparisons.items():
            strip.widget.layout.display = "" if self.compare and has_cam == with_cam else "none"
        if not self.compare:
            self.comparison = {}
            return
        strip = self.comparisons[with_cam]
        pictures = self.session.compare_panels(view, strip.size)
        keys = self._comparison_keys(view, pictures)
        strip.draw(
            pictures,
            self._comparison_labels(view),
            keys={name: key_html(key, strip.size) for name, key in keys.items()},
        )
        self.comparison = pictures

    def _comparison_labels(self, view: View) -> dict[str, str]:
        words = target_words(view.target, self.session.class_name)
        labels = {rule: f"{RULE_LABELS[rule]}: {words}" for rule in COMPARED_RULES}
        labels["cam"] = "Grad-CAM heat map"
        return labels

    def _attribution_key(self, view: View) -> ColourKey | None:
        return self.session.views[view.input_index].attribution_key(view.display, view.percentile)

    def _keys(self, view: View) -> dict[str, ColourKey | LabelKey]:
        """How to read each panel's colours, by panel name; none for the input and for
        maps drawn with axes of their own."""
        keys: dict[str, ColourKey | LabelKey] = {"activation": ACTIVATION_KEY}
        if any("output" in strip.names for strip in self.rows):
            keys["output"] = self.session.output_key()
        if self.session.site_names:
            masks = self.session.mask_key(view.site, view.channel)
            keys.update(dict.fromkeys(MASK_PANELS, masks))
        attribution = self._attribution_key(view)
        if attribution is not None:
            keys["attribution"] = attribution
        return keys

    def _comparison_keys(self, view: View, pictures: dict[str, np.ndarray]) -> dict[str, ColourKey]:
        """Keys of the comparison row's panels in ``pictures``, by name."""
        attribution = self._attribution_key(view)
        keys = {} if attribution is None else dict.fromkeys(COMPARED_RULES, attribution)
        if "cam" in pictures:
            keys["cam"] = display_key("overlay", 99.0)
        return {name: key for name, key in keys.items() if name in pictures}

    def _captions(self, view: View) -> dict[str, str]:
        names = self.session.site_names
        site = names[view.site] if names else ""
        layer = self.session.result(view.target, view.rule).layer if view.rule == "gradcam" else ""
        rectifier = self.session.site_rectifier(view.site) if names else ("relu", None)
        return captions(view, site, self.session.class_name, layer, rectifier)

    # -- pointer and keys ---------------------------------------------------------------

    def _hover(self, strip: PanelStrip, x: float, y: float) -> None:
        spot = strip.locate(x, y)
        if spot is None or self._shown is None:
            return
        _, row, column = spot
        self._crosshair(row, column)
        values = self.session.readout(self._shown, row, column, self.panel_size)
        self.readout_view.value = readout_html(values)

    def _crosshair(self, row: int | None, column: int | None) -> None:
        for strip in self.rows:
            strip.crosshair(row, column)

    def click(self, strip: PanelStrip, x: float, y: float) -> None:
        """A click at canvas point ``(x, y)`` of ``strip``. On a mask or the activation
        panel: explain the unit under it (at the chosen channel, or the most active one
        there when all are shown). On a dense output's label map: explain the region of
        the class under it. On a detector's input: explain the detection whose box
        holds it."""
        spot = strip.locate(x, y)
        if spot is None:
            return
        name, row, column = spot
        if name == "output":
            self._pick_region(row, column)
        elif name == "input" and self.session.output_kind == "detection":
            self._pick_detection(row, column)
        elif name in (*MASK_PANELS, "activation"):
            self._pick_unit(row, column)

    def _pick_unit(self, row: int, column: int) -> None:
        session = self.session
        view = self._shown or self.view()
        unit = session.unit_at(view, row, column, self.panel_size)
        if unit is None:
            return
        channel, position = unit
        if channel is None:
            output = session.site_output(self.site)
            channel = int(output[(slice(None), *position)].argmax())
        with self.hold_trait_notifications():
            self.channel = channel
            self.unit = position
            self.target_kind = "unit"

    def _pick_region(self, row: int, column: int) -> None:
        region = self.session.region_at(row, column, self.panel_size, self.view().cut)
        with self.hold_trait_notifications():
            self.region = region
            self.target_kind = "region"

    def _pick_detection(self, row: int, column: int) -> None:
        found = self.session.detection_at(row, column, self.panel_size)
        if found is None:
            self._report("no detection's box is there: click inside a box")
            return
        with self.hold_trait_notifications():
            self.detection = found.index
            self.target_kind = "detection"

    def _click_grid(self, x: float, y: float) -> None:
        """A click on a tile of the channel grid shows that channel."""
        view = self._shown or self.view()
        result = self.session.result(view.target, self._backward_rule())
        cut = view.cut if self.session.views[view.input_index].kind == "volume" else None
        channel = self.session.grid_channel(result, self.site, int(y), int(x), cut)
        if channel is not None:
            self.channel = channel

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
    def explanation(self) -> Explanation:
        """The engine's :class:`Explanation` behind the picture shown, for a batch of one
        (for Guided Grad-CAM, the guided pass it is made from): what
        ``GuidedBackprop(model).explain(explorer.inputs, ...)`` returns for the same
        target, rule and arguments."""
        self.refresh()
        view = self._shown or self.view()
        return self.session.explanation(view.target, self._backward_rule())

    @property
    def inputs(self) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The model-ready inputs of the item shown, with leading dimension 1."""
        return self.session.inputs

    @property
    def site_names(self) -> list[str]:
        """The ReLU sites of the model on this item, in forward order."""
        return self.session.site_names

    @property
    def classes(self) -> tuple[str, ...]:
        return self.session.classes

    def refresh(self) -> dict[str, np.ndarray]:
        """Finish any pending redraw now and return :attr:`panels`."""
        self._scheduler.flush()
        return self.panels

    def readout(self, row: int, column: int) -> dict[str, object]:
        """The hover read-out for panel pixel ``(row, column)``, without a mouse."""
        self.refresh()
        size = self.panel_size
        if not (0 <= row < size and 0 <= column < size):
            raise ValueError(f"({row}, {column}) is outside the {size} x {size} panels")
        return self.session.readout(self._shown, row, column, size)

    def figure(self) -> NotebookFigure:
        """A matplotlib figure of what the Explorer shows: its rows of panels, the rule
        comparison when it is on, and the channel grid, each map with its colour key;
        titled with the top classes."""
        pictures = self.refresh()
        view = self._shown
        # A picture cannot be hovered or clicked: its label map is only labels.
        words = {**self._captions(view), "output": "predicted labels"}
        rows = [{words[name]: pictures[name] for name in strip.names} for strip in self.rows]
        keys = {words[name]: key for name, key in self._keys(view).items()}
        if self.comparison:
            compared = self._comparison_labels(view)
            rows.append({compared[name]: p for name, p in self.comparison.items()})
            shown = self._comparison_keys(view, self.comparison)
            keys.update({compared[name]: key for name, key in shown.items()})
        names = self.session.site_names
        grid = f"{GRID_CAPTION}, at {names[view.site]}" if names else GRID_CAPTION
        keys[grid] = MASK_KEY
        keyed = "attribution" in self._keys(view)
        note = clip_note(view.percentile) if keyed else ""
        return panel_figure(
            rows, self._figure_title(), note=note, keys=keys, wide=(grid, pictures["grid"])
        )

    def _figure_title(self) -> str:
        top = self.session.top_classes(5)
        title = "  ".join(f"{r}. {name} {100 * p:.1f}%" for r, (_, name, p) in enumerate(top, 1))
        kind = self.session.output_kind
        if kind == "classes":
            return top_classes_title(self.session.probabilities, self.session.classes)
        if kind in ("dense", "detection"):
            return {"dense": "share of positions: ", "detection": "scores: "}[kind] + title
        return title

    def run_sanity(self, max_steps: int | None = None):
        """Cascading randomisation of the shown model on the shown item, for the class
        target (see the "sanity" tab); returns the :class:`~gbp_widgets.sanity.SanityResult`."""
        session = self.session
        try:
            return self.sanity.run(session.engine.model, session.inputs, self.target, max_steps)
        except Exception as err:  # noqa: BLE001 - a failed run must not break the explorer
            self._report(f"the sanity check failed ({_describe(err)})")
            return None

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """The live widget, and a picture of it for pages where no kernel is behind it.

        Front ends that show widgets prefer the widget view; nbconvert's HTML, nbviewer
        and GitHub (which have no widget state unless it was saved) show the PNG, and a
        terminal shows the text, which says how to get the picture.
        """
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = (
            "gbp-widgets Explorer (this front end cannot show widgets: explorer.figure() "
            "draws what it shows)"
        )
        try:
            buffer = io.BytesIO()
            self.figure().savefig(buffer, dpi=STATIC_DPI, format="png")
        except Exception:  # noqa: BLE001 - the live widget must appear even without its picture
            return bundle
        bundle["image/png"] = base64.b64encode(buffer.getvalue()).decode("ascii")
        return bundle

    def save_png(self, path: str | os.PathLike | None = None) -> Path:
        """Save :meth:`figure` as a PNG (``gbp-explorer.png`` by default); return its path."""
        out = Path(path or "gbp-explorer.png")
        self.figure().savefig(out, dpi=110)
        self.status.value = f"saved {html.escape(str(out))}"
        self.message = ""
        return out


def _open(model, inputs, image, engine_args: dict) -> ExplorerSession:
    """The session for the constructor's arguments.

    A user model that cannot be explained raises: no other model is put in its place.
    """
    if inputs is not None and image is not None:
        raise ValueError("give inputs= (model-ready tensors) or image= (a picture), not both")
    if model is None:
        if inputs is not None:
            raise ValueError("inputs= needs model=: the default model takes pictures (image=)")
        return _session_of(load_model(DEFAULT_MODEL), _as_picture(image))
    if inputs is None:
        preprocess = engine_args["preprocess"] or Preprocessing()
        pictured = picture_inputs(_as_picture(image), preprocess)
        engine_args = {**engine_args, **pictured, "preprocess": preprocess}
    else:
        engine_args = {**engine_args, "inputs": inputs}
    try:
        return ExplorerSession(model, **engine_args)
    except Exception as err:
        raise ValueError(f"your model could not be explained: {_describe(err)}") from err


def _session_of(loaded, picture) -> ExplorerSession:
    """A session for a :func:`load_model` result on one picture."""
    return ExplorerSession(
        loaded.model,
        **picture_inputs(picture, loaded.preprocess),
        classes=loaded.classes,
        preprocess=loaded.preprocess,
    )


def _as_picture(image: object) -> Image.Image | torch.Tensor:
    """A picture for ``image=``: the first sample when ``None``."""
    if image is None:
        return sample_image(SAMPLE_NAMES[0])
    if isinstance(image, (Image.Image, torch.Tensor)):
        return image
    if isinstance(image, str) and image in SAMPLE_NAMES:
        return sample_image(image)
    return load_image(image)


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"
