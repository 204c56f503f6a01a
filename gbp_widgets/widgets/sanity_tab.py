"""The explorer's "sanity" tab: cascading randomisation of the shown model, on the shown image."""

from __future__ import annotations

import io
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
import torch
from torch import nn

from gbp_widgets.explore.open import describe
from gbp_widgets.sanity import SanityResult, cascading_randomization
from gbp_widgets.widgets.canvas import GridCanvas


class SanityTab:
    """A run button, a progress bar, the grid of maps (rows: rules, columns: steps, on a
    canvas) and the similarity curves (a PNG)."""

    def __init__(self) -> None:
        self.run_button = widgets.Button(
            description="run cascading randomisation",
            icon="random",
            layout=widgets.Layout(width="auto"),
        )
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="blocks")
        self.note = widgets.HTML(
            "Re-initialises the model's blocks from the output down, on a copy, and compares "
            "each rule's map with the original. Maps that stay the same are not about the "
            "weights (Adebayo et al., 2018)."
        )
        self.grid = GridCanvas()
        self.curves = widgets.Image(format="png")
        self.result: SanityResult | None = None
        self.widget = widgets.VBox(
            [
                self.note,
                widgets.HBox([self.run_button, self.progress]),
                widgets.HTML("<b>maps: rows are rules, columns are randomisation steps</b>"),
                self.grid.canvas,
                self.curves,
            ]
        )

    def run(
        self,
        model: nn.Module,
        inputs: torch.Tensor,
        target: object,
        max_steps: int | None = None,
        activations: str = "relu",
    ) -> SanityResult:
        """Run the test for the engine ``target`` (with the engine's ``activations``) and
        show it; returns the :class:`SanityResult`."""
        self.progress.value = 0

        def advance(done: int, total: int) -> None:
            self.progress.max = total
            self.progress.value = done

        result = cascading_randomization(
            model,
            inputs,
            target=target,
            max_steps=max_steps,
            progress=advance,
            activations=activations,
        )
        self.result = result
        self.grid.draw(result.grid())
        buffer = io.BytesIO()
        result.figure().savefig(buffer, format="png", dpi=80)
        self.curves.value = buffer.getvalue()
        return result

    @property
    def picture(self) -> np.ndarray | None:
        """The map grid drawn on the canvas, RGBA, or ``None`` before a run."""
        return None if self.result is None else self.grid.drawn


class SanityPart:
    """The "sanity" tab's box, and its :class:`SanityTab` made the first time it is asked
    for: most Explorers never run it, and its widgets would be kept in every saved
    notebook. ``run`` is called by the tab's run button."""

    def __init__(self, run: Callable[[], object]) -> None:
        self.box = widgets.VBox()
        self._run, self._tab = run, None

    def run(self, session, state, max_steps: int | None, report: Callable[[str], None]):
        """The test on ``session``'s model and item for the class (or the next token) the
        traits ``state`` explain, with its activations, shown in the tab; a failure is
        ``report``-ed and gives ``None``."""
        model, inputs = session.engine.model, session.inputs
        target = session.output_kind.sanity_target(state)
        try:
            return self.tab.run(model, inputs, target, max_steps, session.activations)
        except Exception as err:  # noqa: BLE001 - a failed run must not break the Explorer
            report(f"the sanity check failed ({describe(err)})")
            return None

    @property
    def tab(self) -> SanityTab:
        if self._tab is None:
            self._tab = SanityTab()
            self._tab.run_button.on_click(lambda _: self._run())
            self.box.children = [self._tab.widget]
        return self._tab
