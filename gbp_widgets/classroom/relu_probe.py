"""What a student's ReLU backward does on a grid of probe values: every sign of the input
``x`` against every sign of the incoming gradient ``g``, compared with the rules, and
described in the student's terms (which mask it built, which comparison is reversed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

RULE_NAMES = {"guided": "guided", "deconvnet": "DeconvNet"}
# Masks a backward may have built, by the comparison written; a "<" one is reversed.
FORWARD_COMPARISONS = {
    None: lambda x: 1,
    "x>0": lambda x: x > 0,
    "x>=0": lambda x: x >= 0,
    "x<0": lambda x: x < 0,
    "x<=0": lambda x: x <= 0,
}
BACKWARD_COMPARISONS = {None: lambda g: 1, "g>0": lambda g: g > 0, "g<0": lambda g: g < 0}


def rule_formula(rule: str, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """What ``rule`` passes below a ReLU with input ``x`` and incoming gradient ``g``."""
    if rule == "gradient":
        return g * (x > 0)
    if rule == "deconvnet":
        return g * (g > 0)
    return g * (x > 0) * (g > 0)


def probe_grid() -> tuple[torch.Tensor, torch.Tensor]:
    """``(7, 6)`` inputs and gradients: every sign of x (zero too) against every sign of g."""
    xs = torch.tensor([2.0, 0.5, 3.0, -1.0, -2.5, -0.5, 0.0])
    gs = torch.tensor([1.5, 0.25, 2.0, -1.0, -0.5, -2.0])
    return torch.meshgrid(xs, gs, indexing="ij")


@dataclass
class Probe:
    """What the student's backward returned on the probe grid, next to what it should."""

    x: torch.Tensor
    g: torch.Tensor
    got: torch.Tensor
    rule: str

    @property
    def expected(self) -> torch.Tensor:
        return rule_formula(self.rule, self.x, self.g)

    def passes_mask(self) -> torch.Tensor:
        return self.got != 0

    def example(self, where: torch.Tensor) -> str:
        i = int(where.flatten().nonzero()[0])
        x, g, got = (float(t.flatten()[i]) for t in (self.x, self.g, self.got))
        return f"at x={x:g}, g={g:g} it returns {got:g}"

    def behaves_as(self, rule: str) -> bool:
        return torch.allclose(self.got, rule_formula(rule, self.x, self.g))


def mask_facts(probe: Probe) -> dict[str, str]:
    """What is wrong about where the gradient passes and with what values, per item."""
    x, g = probe.x, probe.g
    facts = {"forward_mask": "", "backward_mask": "", "values": ""}
    if probe.rule == "guided":
        negative_x = (x < 0) & probe.passes_mask()
        zero_x = (x == 0) & probe.passes_mask()
        if negative_x.any():
            facts["forward_mask"] = (
                f"where x<0 your backward still passes gradient ({probe.example(negative_x)}); "
                "the forward mask 1[x>0] must zero it. (Leaving the mask out does this, and so "
                "does building it from grad_output instead of the saved input.)"
            )
        elif zero_x.any():
            facts["forward_mask"] = (
                f"at x = 0 your backward passes gradient ({probe.example(zero_x)}), but "
                "1[x>0] is 0 there: use a strict x > 0, not x >= 0."
            )
    else:
        blocked = (g > 0) & (x <= 0) & ~probe.passes_mask()
        if blocked.any():
            facts["forward_mask"] = (
                "DeconvNet ignores x and passes every positive gradient, but where x<=0 your "
                f"backward blocks it ({probe.example(blocked)}): it masks by the input."
            )
    negative_g = (g < 0) & probe.passes_mask()
    if negative_g.any():
        facts["backward_mask"] = (
            f"where g<0 your backward passes gradient ({probe.example(negative_g)}); the "
            "backward mask 1[g>0] must zero it. (Leaving the mask out does this, and so does "
            "building it from the saved input instead of grad_output.)"
        )
    facts["values"] = values_fact(probe)
    return facts


def comparisons(probe: Probe) -> tuple[str | None, str | None] | None:
    """The comparisons ``(on x, on g)`` whose 0/1 masks times g give exactly what the
    student's backward returned on the probe grid, or ``None`` when no pair does."""
    for on_x, forward in FORWARD_COMPARISONS.items():
        for on_g, backward in BACKWARD_COMPARISONS.items():
            if torch.allclose(probe.got, probe.g * forward(probe.x) * backward(probe.g)):
                return on_x, on_g
    return None


def reversed_facts(probe: Probe, on_x: str | None, on_g: str | None) -> dict[str, str]:
    """What is wrong, per item, with a backward that is ``g`` times masks of the written
    comparisons, at least one of them reversed (``<`` where ``>`` belongs)."""
    facts = {**mask_facts(probe), "values": ""}
    if on_x in ("x<0", "x<=0"):
        kept = (probe.x < 0) & probe.passes_mask()
        told = (
            f"the comparison on x is reversed: your backward multiplies by 1[{on_x}], so "
            f"gradient passes where x<0 ({probe.example(kept)}) and stops where x>0."
        )
        facts["forward_mask"] = (
            f"{told} Use (x > 0)."
            if probe.rule == "guided"
            else f"{told} DeconvNet has no forward mask at all: leave x out."
        )
    elif on_x == EXPECTED_ON_X[probe.rule]:
        facts["forward_mask"] = ""
    if on_g == "g<0":
        kept = (probe.g < 0) & probe.passes_mask()
        facts["backward_mask"] = (
            "the comparison on g is reversed: your backward multiplies by 1[g<0], so it keeps "
            f"negative gradients ({probe.example(kept)}) and drops positive ones. "
            "Use (grad_output > 0)."
        )
    elif on_g == "g>0":
        facts["backward_mask"] = ""
    return facts


EXPECTED_ON_X = {"guided": "x>0", "deconvnet": None}


def values_fact(probe: Probe) -> str:
    should_pass = probe.expected != 0
    passing = should_pass & probe.passes_mask()
    got, g, x = probe.got[passing], probe.g[passing], probe.x[passing]
    if passing.any() and not torch.allclose(got, g):
        checks: list[tuple[Callable[[], bool], str]] = [
            (
                lambda: torch.allclose(got, torch.ones_like(got)),
                "your backward returns the mask itself (1 where gradient passes): "
                "multiply the mask by grad_output",
            ),
            (
                lambda: torch.allclose(got, g * x),
                "your backward multiplies grad_output by the input's values x (or relu(x)) "
                "instead of the 0/1 mask 1[x>0]: use (x > 0), not x",
            ),
            (
                lambda: torch.allclose(got, g * g),
                "your backward multiplies grad_output by its own values (relu(g)) instead of "
                "the 0/1 mask 1[g>0]: use (g > 0), not g",
            ),
            (
                lambda: torch.allclose(got, -g),
                "the sign is flipped: where the masks are 1, pass +g",
            ),
        ]
        for matches, told in checks:
            if matches():
                return f"{told} ({probe.example(passing)})."
        return (
            "where the masks are 1 the gradient must pass unchanged, but "
            f"{probe.example(passing & ~torch.isclose(probe.got, probe.g))} instead of g."
        )
    # Where x>0 and g>0 every rule passes g; blocking elsewhere is a mask's fault.
    blocked = (probe.x > 0) & (probe.g > 0) & ~probe.passes_mask()
    if blocked.any():
        return (
            f"your backward returns 0 where {RULE_NAMES[probe.rule]} passes the gradient "
            f"({probe.example(blocked)} instead of g)."
        )
    return ""
