"""The Explorer: guided backprop and every ReLU's masks, live in a notebook, for any model.

Traits (one per row of the state table), layout, wiring and the public API. What a value
means, which values fit, what is computed and what the panels say live in
:mod:`gbp_widgets.explore`; the canvases in :mod:`gbp_widgets.widgets.board`, the webcam in
:mod:`gbp_widgets.widgets.webcam`, the sanity tab in :mod:`gbp_widgets.widgets.sanity_tab`.
"""

from __future__ import annotations

import html
import logging
import os
import time
import warnings
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import torch
import traitlets
from torch import nn

from gbp_widgets.engine import Explanation
from gbp_widgets.explore import Scene, View, scene_of
from gbp_widgets.explore.chosen import view_of
from gbp_widgets.explore.names import CUSTOM
from gbp_widgets.explore.open import describe, image_name, open_session, shown_text
from gbp_widgets.explore.pointer import grid_click, key_step, panel_click
from gbp_widgets.explore.scene import figure
from gbp_widgets.models import Preprocessing
from gbp_widgets.pictures.figures import NotebookFigure
from gbp_widgets.widgets.ahead import PicturesAhead
from gbp_widgets.widgets.binding import close_parts
from gbp_widgets.widgets.board import Board
from gbp_widgets.widgets.latest import LatestOnly
from gbp_widgets.widgets.sanity_tab import SanityPart, SanityTab
from gbp_widgets.widgets.static import with_picture
from gbp_widgets.widgets.traits import ExplorerTraits
from gbp_widgets.widgets.webcam import Webcam

# Each redraw and hover read-out timed at DEBUG (extra: work, seconds): where the time goes.
LOG = logging.getLogger(__name__)


class Explorer(ExplorerTraits):
    """Explore Gradients, DeconvNet and Guided Backprop, down to each ReLU's masks.

    ``Explorer()`` opens the offline default model on a sample photo.
    ``Explorer(model=m, inputs=x)`` explores your own model on what
    :meth:`GuidedBackprop.explain` takes: an image ``(N, 1|3, H, W)``, a signal
    ``(N, C, L)``, a volume ``(N, C, D, H, W)``, a table ``(N, F)``, or a tuple of them;
    ``item`` chooses which of the ``N`` is shown. ``output``, ``forward_args`` and
    ``forward_kwargs`` are the engine's. For pictures, ``image=`` takes a sample name,
    path, bytes, PIL image or model-ready ``(3, H, W)`` tensor, and ``preprocess`` turns
    pictures into inputs (ImageNet's by default). ``kind`` shows a table row as a
    ``"signal"`` or a signal as a ``"table"``. Trait values (``target=``, ``rule=``, ...)
    may be given too: one that does not fit raises ``ValueError`` naming it, and one set
    later raises ``traitlets.TraitError``, the old value kept. ``webcam=True`` (or the
    *webcam* toggle) explains the browser's camera frame by frame on an image model:
    ``freeze`` holds a frame as the input, ``follow_top`` explains each frame's top
    class, :attr:`frames_per_second` says how fast it goes. Text: ``Explorer(text="...")``
    explains the shipped character GPT's next token; ``Explorer(model=m, text="...",
    tokenizer=t)`` your own model on token ids (``inputs=ids`` works too), the tokenizer
    any callable ``str -> ids`` that turns ids back into texts (a Hugging Face tokenizer
    as it is); :attr:`text` is a trait, typed in its box (Enter explains it), and a click
    on a token explains the prediction after it. :attr:`explanation` is the
    engine's answer behind the picture; :attr:`panels` holds the pictures drawn,
    ``(panel_size, panel_size, 4)`` ``uint8`` RGBA by panel name.
    """

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
        tokenizer: object = None,
        panel_size: int = 224,
        **kwargs,
    ) -> None:
        requested = {name: kwargs.pop(name) for name in self.table if name in kwargs}
        text = requested.pop("text", None)
        if kwargs:
            raise TypeError(f"Explorer got unexpected arguments: {', '.join(kwargs)}")
        super().__init__()
        # The top-5 buttons pick a class too, and show one ahead.
        bound = self.controls.bound
        self.ahead = PicturesAhead(
            self.table, {**bound, "target": (*bound["target"], self.controls.top)}
        )
        self.panel_size, self.panels, self.comparison = panel_size, {}, {}
        self.scene: Scene | None = None
        self._scheduler = LatestOnly()
        try:
            self.session = open_session(
                model, inputs, image, kind, text, output=output, forward_args=forward_args,
                forward_kwargs=forward_kwargs, classes=classes, feature_names=feature_names,
                preprocess=preprocess, tokenizer=tokenizer,
            )  # fmt: skip
        except BaseException:
            self._refused([self.controls.widget, self.status])
            raise
        texts = self.session.texts
        with self._quiet():
            self.image = image_name(image) if image is not None or inputs is not None else "chelsea"
            self.model_name = CUSTOM if model is not None or texts else self.model_name
            self.text = text if text is not None else shown_text(self.session)
        self.board = Board(panel_size, self._hover, self.click, self._key, self._grid_click)
        self._sanity = SanityPart(self.run_sanity)
        explore = widgets.VBox([self.controls.widget, self.status, *self.board.parts])
        self.tabs = widgets.Tab([explore, self._sanity.box], titles=["explore", "sanity"])
        self.tabs.observe(lambda change: change.new == 1 and self.sanity, "selected_index")
        self.children = [self.tabs]
        self.feed = Webcam(
            self.controls.camera, self._show_frame, lambda: self.session.picture_side, self._report,
            self._say, self._clear_status, lambda: setattr(self, "webcam", False),
        )  # fmt: skip
        self._new_input()
        self._bind()
        self.controls.save.on_click(lambda _: self.save_png())
        for name, value in requested.items():
            try:
                setattr(self, name, value)
            except traitlets.TraitError as err:
                self._refused(self.children)
                raise ValueError(f"{name}={value!r}: {err}") from None
        self._request_draw()

    def _refused(self, made: list[widgets.Widget]) -> None:
        """A refused Explorer closes the widgets it ``made``: ipywidgets would keep each open
        one, and with them the Explorer and its model."""
        self.children = made
        self.close()

    # -- a new input, and changes asked for from the page ------------------------------

    def _new_input(self) -> None:
        super()._new_input()
        self.board.show_readout(None)
        self.controls.camera.size = self.session.picture_side

    def _show_frame(self, picture: np.ndarray) -> bool:
        """A webcam frame, drawn at once (whether it was)."""
        self._take_frame(picture)
        return self._scheduler.run_now(self._draw)

    @property
    def frames_per_second(self) -> float:
        """Webcam frames explained and drawn per second, over the last few seconds
        (:data:`~gbp_widgets.explore.stream.FRAME_WINDOW`); 0 until two are drawn."""
        return self.feed.rate.value

    def _hover(self, strip, x: float, y: float) -> None:
        spot = strip.locate(x, y)
        if spot is not None and self.scene is not None:
            started = time.perf_counter()
            self.board.crosshair(*spot[1:])
            readout = self.session.readout(self.scene.view, *spot[1:], self.panel_size, spot[0])
            self.board.show_readout(readout)
            _timed("hover", started)

    def click(self, strip, x: float, y: float) -> None:
        """A click at canvas point ``(x, y)`` of panel row ``strip`` (one of :attr:`rows`):
        see :func:`gbp_widgets.explore.pointer.panel_click`."""
        spot = strip.locate(x, y)
        if spot is not None:
            self._ask(lambda: panel_click(self.session, self._view(), *spot, strip.size))

    def _grid_click(self, x: float, y: float) -> None:
        self._ask(lambda: grid_click(self.session, self._view(), x, y))

    def _key(self, key: str, *modifiers) -> None:
        channels = [value for _, value in self.controls.channel.options]
        self._ask(lambda: key_step(self.session, self._view(), key, self.state(), channels))

    # -- drawing ------------------------------------------------------------------------

    def _request_draw(self) -> None:
        if not self._quiet:
            self.ahead.cancel()
            self._scheduler.submit(self._draw)

    def _draw(self) -> bool:
        """Redraw everything; any failure is reported and the last good picture stays,
        so no exception escapes into the kernel's event loop. Whether it drew."""
        started = time.perf_counter()
        try:
            with self._choices_followed(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scene = scene_of(
                    self.session, self.view(), self.panel_size, self.compare,
                    self.board.comparison_size, self.webcam and self.image == CUSTOM,
                )  # fmt: skip
                self.panels, self.comparison = self.board.draw(scene)
        except Exception as err:  # noqa: BLE001 - keep showing the last good picture
            self._report(describe(err))
            return False
        self.scene = scene
        self._start_ahead()
        _timed("draw", started)
        return True

    def _start_ahead(self) -> None:
        # While frames come, the next one comes sooner than any control's next value.
        if not self.feed.live:
            self.ahead.start(self.session, self.scene, self.state(), self.board.rows)

    def _view(self) -> View:
        return self.scene.view if self.scene is not None else self.view()

    # -- reading the Explorer from code -------------------------------------------------

    def draw_ahead(self) -> None:
        """Make and send now the pictures one step from the view shown, which the kernel
        otherwise makes while idle after each redraw (:attr:`ahead` holds them)."""
        self.refresh()
        self._start_ahead()
        self.ahead.run_all()

    def view(self) -> View:
        """The current choices, as the session takes them."""
        return view_of(self.table, self.session, self.state())

    def panel_names(self) -> tuple[str, ...]:
        """The panels shown, in order."""
        self.refresh()
        return self.scene.names

    @property
    def rows(self) -> tuple:
        """The rows of panels on screen (:class:`~gbp_widgets.widgets.canvas.PanelStrip`)."""
        return self.board.rows

    @property
    def explanation(self) -> Explanation:
        """The engine's :class:`Explanation` behind the picture shown, for a batch of one
        (for Guided Grad-CAM, the guided pass it is made from): what
        ``GuidedBackprop(model).explain(explorer.inputs, ...)`` returns for the same
        target, rule and arguments."""
        self.refresh()
        view = self._view()
        return self.session.explanation(view.target, view.rule)

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

    def readout(self, row: int, column: int, panel: str = "input") -> dict[str, object]:
        """The hover read-out for pixel ``(row, column)`` of ``panel``, without a mouse."""
        self.refresh()
        size = self.panel_size
        if not (0 <= row < size and 0 <= column < size):
            raise ValueError(f"({row}, {column}) is outside the {size} x {size} panels")
        return self.session.readout(self.scene.view, row, column, size, panel)

    def figure(self) -> NotebookFigure:
        """A matplotlib figure of what the Explorer shows: its rows of panels, the rule
        comparison when it is on, and the channel grid, each map with its colour key;
        titled with the top classes."""
        self.refresh()
        return figure(self.scene, self.panel_size)

    @property
    def sanity(self) -> SanityTab:
        """The "sanity" tab's widgets, made the first time the tab is opened or used."""
        return self._sanity.tab

    def run_sanity(self, max_steps: int | None = None):
        """Cascading randomisation of the shown model on the shown item, for the class
        target (the next token, for a language model) and the Explorer's activations
        (see the "sanity" tab); returns the :class:`~gbp_widgets.sanity.SanityResult`."""
        return self._sanity.run(self.session, self.state(), max_steps, self._report)

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """The live widget, and a picture of it for pages where no kernel is behind it."""
        return with_picture(super()._repr_mimebundle_(**kwargs), self.figure, "Explorer")

    def save_png(self, path: str | os.PathLike | None = None) -> Path:
        """Save :meth:`figure` as a PNG (``gbp-explorer.png`` by default); return its path."""
        out = Path(path or "gbp-explorer.png")
        self.figure().savefig(out, dpi=110)
        self.status.value = f"saved {html.escape(str(out))}"
        self.message = ""
        return out

    def close(self) -> None:
        """Close the Explorer and every widget it made; pending pictures are dropped."""
        if self.comm is not None:
            self.ahead.cancel()
            close_parts(self)
        super().close()


def _timed(work: str, started: float) -> None:
    if LOG.isEnabledFor(logging.DEBUG):
        seconds = time.perf_counter() - started
        LOG.debug("%s took %.1f ms", work, 1000 * seconds, extra={"work": work, "seconds": seconds})
