"""Automatic feedback for students who write the guided (or deconvnet) ReLU themselves.

A student writes a ``torch.autograd.Function`` whose forward is ReLU and whose
backward applies a rule. :func:`check_guided_relu` and
:func:`check_deconvnet_relu` compare it with the engine on probe tensors
chosen to expose the usual mistakes, then on a small CNN, and say in plain
words what is wrong.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from gbp_widgets.engine import GuidedBackprop, apply_rule


@dataclass
class Feedback:
    """What the checks found: ``passed`` when every check did, with one line per problem.

    ``score`` is the fraction of the checks passed, for grading.
    """

    rule: str
    problems: list[str] = field(default_factory=list)
    checks: int = 0
    passed_checks: int = 0

    @property
    def passed(self) -> bool:
        return self.checks > 0 and self.passed_checks == self.checks

    @property
    def score(self) -> float:
        return self.passed_checks / self.checks if self.checks else 0.0

    def __str__(self) -> str:
        if self.passed:
            return f"All {self.checks} checks passed: your {self.rule} ReLU is right."
        lines = [f"{len(self.problems)} of {self.checks} checks failed for your {self.rule} ReLU:"]
        return "\n".join(lines + [f"  - {problem}" for problem in self.problems])

    def _repr_html_(self) -> str:
        colour = "#1b7f3b" if self.passed else "#b00020"
        body = html.escape(str(self)).replace("\n", "<br>")
        return f"<div style='color:{colour}'>{body}</div>"


# (x, g): one probe per region of the (x, g) plane, where the rules disagree.
_PROBES = {
    "x>0, g>0": (2.0, 1.5),
    "x>0, g<0": (2.0, -1.5),
    "x<0, g>0": (-2.0, 1.5),
    "x<0, g<0": (-2.0, -1.5),
    "x=0, g>0": (0.0, 1.5),
}


def check_guided_relu(function: type[torch.autograd.Function]) -> Feedback:
    """Check a student's guided ReLU: backward ``g * 1[x>0] * 1[g>0]``."""
    return _check(function, "guided")


def check_deconvnet_relu(function: type[torch.autograd.Function]) -> Feedback:
    """Check a student's deconvnet ReLU: backward ``g * 1[g>0]``."""
    return _check(function, "deconvnet")


def _check(function: type[torch.autograd.Function], rule: str) -> Feedback:
    feedback = Feedback(rule)
    if not (isinstance(function, type) and issubclass(function, torch.autograd.Function)):
        feedback.checks = 1
        feedback.problems.append(
            f"expected a torch.autograd.Function subclass, got {function!r}; define "
            "`class MyReLU(torch.autograd.Function)` with static forward and backward"
        )
        return feedback
    checks = (_check_forward, _check_probes, _check_random, _check_model)
    feedback.checks = len(checks)
    for check in checks:
        try:
            problem = check(function, rule)
        except NotImplementedError:
            feedback.problems.append(
                "not implemented yet: replace `raise NotImplementedError` with your code"
            )
            return feedback
        except Exception as err:  # noqa: BLE001 - a student's bug becomes feedback
            problem = _explain_error(err)
        if problem:
            feedback.problems.append(problem)
        else:
            feedback.passed_checks += 1
    return feedback


def _explain_error(err: Exception) -> str:
    if isinstance(err, RuntimeError) and "invalid gradient" in str(err):
        return (
            "backward returned a gradient of the wrong shape: it must have the shape of "
            f"forward's input (autograd said: {err})"
        )
    return f"your function raised {type(err).__name__}: {err}"


def _run(function, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = x.clone().requires_grad_(True)
    out = function.apply(leaf)
    (grad,) = torch.autograd.grad(out, leaf, g)
    return out.detach(), grad


def _check_forward(function, rule: str) -> str:
    x = torch.linspace(-3, 3, 13)
    out, _ = _run(function, x, torch.ones_like(x))
    if out.shape != x.shape:
        return f"forward returned shape {tuple(out.shape)} for an input of shape {tuple(x.shape)}"
    if not torch.allclose(out, F.relu(x)):
        return "forward must return relu(x) = max(x, 0); only the backward pass changes"
    return ""


def _check_probes(function, rule: str) -> str:
    for region, (x_value, g_value) in _PROBES.items():
        x, g = torch.tensor([x_value]), torch.tensor([g_value])
        _, grad = _run(function, x, g)
        expected = apply_rule(rule, g, F.relu(x), None)
        if grad.shape != x.shape:
            return f"backward returned shape {tuple(grad.shape)}; it must match the input's"
        if not torch.allclose(grad, expected):
            return _diagnose(rule, region, float(grad), float(expected), x_value, g_value)
    return ""


def _diagnose(rule: str, region: str, got: float, expected: float, x: float, g: float) -> str:
    where = f"at {region} (x={x:g}, incoming gradient g={g:g}) you return {got:g}, not {expected:g}"
    if region == "x>0, g<0" and got == g:
        return f"your backward lets negative gradients through at positions where x>0 ({where})"
    if region == "x<0, g>0" and got == g and rule == "guided":
        return (
            "your backward passes gradient where x<=0: the forward mask 1[x>0] is missing, "
            f"which makes it deconvnet, not guided ({where})"
        )
    if region == "x<0, g>0" and got == 0 and rule == "deconvnet":
        return (
            "your backward masks by the input x, but deconvnet ignores the input and keeps "
            f"every positive gradient ({where})"
        )
    if region == "x=0, g>0":
        return f"at x = 0 the forward mask 1[x>0] is 0: use a strict x > 0 ({where})"
    if region == "x>0, g>0" and got == g * x:
        return (
            "you multiplied by the activation values instead of the 0/1 mask: use "
            f"(x > 0).float(), not x or relu(x) ({where})"
        )
    if got == -expected:
        return f"the sign is flipped ({where})"
    return where


def _check_random(function, rule: str) -> str:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 8, 5, 5, generator=generator)
    g = torch.randn(4, 8, 5, 5, generator=generator)
    _, grad = _run(function, x, g)
    if not torch.allclose(grad, apply_rule(rule, g, F.relu(x), None)):
        wrong = (~torch.isclose(grad, apply_rule(rule, g, F.relu(x), None))).float().mean()
        return f"on a random (4, 8, 5, 5) tensor, {100 * wrong:.1f}% of the gradients are wrong"
    return ""


class SmallCNN(nn.Module):
    """A small ReLU CNN for 3 x 16 x 16 inputs whose rectifier can be swapped."""

    def __init__(self, rectifier: Callable[[torch.Tensor], torch.Tensor] = F.relu) -> None:
        super().__init__()
        self.rectifier = rectifier
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.rectifier(self.conv1(x))
        x = self.rectifier(self.conv2(x))
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


def _check_model(function, rule: str) -> str:
    torch.manual_seed(0)
    reference = SmallCNN().eval()
    student = SmallCNN(function.apply).eval()
    student.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 16, 16)
    expected = GuidedBackprop(reference).explain(x, target=[1, 3], rule=rule).attribution
    leaf = x.clone().requires_grad_(True)
    logits = student(leaf)
    (grad,) = torch.autograd.grad(logits[0, 1] + logits[1, 3], leaf)
    if not torch.allclose(grad, expected, atol=1e-6):
        return (
            "each ReLU looks right alone, but in a small CNN your input gradient differs "
            "from the engine's: check that backward uses the saved input, not a global"
        )
    return ""
