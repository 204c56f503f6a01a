"""The Explorer's rules as objects, in one table: each says its name and label, the engine
rule whose backward pass it is, whether it is one of the maps compared side by side, what it
needs of the inputs, the panels it adds beside the comparison, and how its map is made.

Guided Grad-CAM is a composite: the guided pass, weighted by the Grad-CAM map through the
engine's :func:`~gbp_widgets.engine.guided_gradcam_from`, the one place the two are combined.
Nothing outside this module tells rules apart by their names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gbp_widgets.engine import BACKWARD_RULES, BackwardRule, guided_gradcam_from
from gbp_widgets.explore.names import PERCENTILE
from gbp_widgets.explore.passes import Passes, Result
from gbp_widgets.explore.view import Target
from gbp_widgets.pictures import render
from gbp_widgets.pictures.colour_keys import ColourKey, display_key


@dataclass(frozen=True)
class Rule:
    """A rule of the Explorer's rule buttons.

    ``backward`` is the engine rule whose pass gives the map and the sites' masks;
    ``compared``: one of the maps shown side by side; ``photo_only``: it applies only
    where each item is one picture; ``beside``: the panels it adds beside the compared
    maps, as ``(name, label)`` pairs.
    """

    name: str
    label: str
    backward: BackwardRule
    compared: bool = True
    photo_only: bool = False
    beside: tuple[tuple[str, str], ...] = ()

    def problem(self, photo: bool) -> str:
        """Why the rule does not apply to inputs that are (``photo``) or are not one picture
        per item ("" when it does)."""
        if self.photo_only and not photo:
            return f"{self.label} needs a feature map of an image model: choose another rule"
        return ""

    def caption(self, layer: str | None = None) -> str:
        """The rule's words over its map: the label, and the ``layer`` a CAM was taken at."""
        return self.label + (f" at {layer}" if layer else "")

    def make(self, passes: Passes, target: Target) -> Result:
        """The map and masks of ``target``: a backward pass of :attr:`backward`."""
        return passes.backprop(target, self.backward)

    def beside_pictures(self, result: Result, photo: np.ndarray, size: int) -> dict:
        """The pictures of :attr:`beside`, ``(size, size, 4)`` each (none)."""
        return {}

    def beside_keys(self) -> dict[str, ColourKey]:
        """How to read the pictures of :attr:`beside`, by name."""
        return {}


@dataclass(frozen=True)
class WeightedByCam(Rule):
    """``weights``' map times the Grad-CAM map of the same target (Guided Grad-CAM), its
    sites those of ``weights``' pass; the heat map beside the compared maps."""

    weights: Rule | None = None

    def make(self, passes: Passes, target: Target) -> Result:
        # The weighted rule's own pass: cached if it was shown already.
        weighted = passes.result(target, self.weights)
        combined = guided_gradcam_from(
            passes.recording, target, passes.layer, guided=weighted.explanation
        )
        return Result(
            explanation=weighted.explanation,
            attributions=(combined.product[0].detach().cpu().numpy(),),
            grads=weighted.grads,
            cam=combined.cam[0, 0].detach().cpu().numpy(),
            layer=combined.layer,
        )

    def beside_pictures(self, result, photo, size):
        return {"cam": render.fit(render.overlay(photo, result.cam[None]), size)}

    def beside_keys(self):
        return {"cam": display_key("overlay", PERCENTILE)}


GUIDED = Rule("guided", "Guided", BACKWARD_RULES["guided"])
"""Guided backprop, the published method: the rule shown first, and whose coverage of a
model the status line reports."""

GUIDED_GRADCAM = WeightedByCam(
    "gradcam",
    "Guided Grad-CAM",
    GUIDED.backward,
    compared=False,
    # Grad-CAM weights a feature map of an image model.
    photo_only=True,
    beside=(("cam", "Grad-CAM heat map"),),
    weights=GUIDED,
)
"""Guided Grad-CAM (Selvaraju et al.): the guided map weighted by the Grad-CAM map."""

RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule("gradient", "Gradient", BACKWARD_RULES["gradient"]),
        Rule("deconvnet", "DeconvNet", BACKWARD_RULES["deconvnet"]),
        GUIDED,
        GUIDED_GRADCAM,
    )
}
"""The Explorer's rules, by the name the ``rule`` trait takes, in the order of its buttons."""
RANKING = GUIDED
"""The rule whose pass picks the channel explained when a channel or unit target shows all
channels: the one its product mask lets most through."""

RULE_LABELS: dict[str, str] = {name: rule.label for name, rule in RULES.items()}
"""Rule name -> label."""
EXPLORER_RULES: tuple[str, ...] = tuple(RULES)
"""The names the ``rule`` trait takes."""
COMPARED_RULES: tuple[str, ...] = tuple(name for name, rule in RULES.items() if rule.compared)
"""The rules whose maps the comparison row shows side by side."""


def comparison_names(rule: Rule) -> tuple[str, ...]:
    """The comparison row's panels while ``rule`` is chosen."""
    return (*COMPARED_RULES, *(name for name, _ in rule.beside))


COMPARISONS: tuple[tuple[str, ...], ...] = tuple(
    dict.fromkeys(comparison_names(rule) for rule in RULES.values())
)
"""Every comparison row there can be, each once."""
