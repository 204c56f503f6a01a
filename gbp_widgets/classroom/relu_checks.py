"""Checks for a student's guided or DeconvNet ReLU, written as a ``torch.autograd.Function``.

The student's ``forward`` and ``backward`` are called directly on a grid of
probe values covering every sign of the input ``x`` and the incoming gradient
``g``, so what they return can be described region by region; then through
autograd, with a skip connection and with two calls in flight; last inside a
small CNN against the engine. Each rubric item gets at most one message, and a
message only states what was observed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gbp_widgets.classroom.feedback import Feedback, Outcome, RubricItem
from gbp_widgets.classroom.relu_probe import (
    RULE_NAMES,
    Probe,
    comparisons,
    mask_facts,
    probe_grid,
    reversed_facts,
)
from gbp_widgets.classroom.student_code import EngineCalls, StudentCodeError, isolated, student
from gbp_widgets.engine import GuidedBackprop

_FORMULAS = {
    "guided": "g·1[x>0]·1[g>0]",
    "deconvnet": "g·1[g>0]",
    "gradient": "g·1[x>0] (the plain ReLU gradient)",
}
# What a function computing the other rule has done, by the rule it was handed in as.
_HANDED_IN_AS = {
    "guided": "that is DeconvNet handed in as guided backprop; add the forward mask (x > 0).",
    "deconvnet": (
        "that is guided backprop handed in as DeconvNet; DeconvNet's backward is the same "
        "without the forward mask (x > 0)."
    ),
}


def rubric(rule: str) -> tuple[RubricItem, ...]:
    """The rubric for a ReLU Function under ``rule``: 10 points in all."""
    forward_mask = (
        "forward mask 1[x>0]" if rule == "guided" else "no forward mask (DeconvNet ignores x)"
    )
    return (
        RubricItem("forward", "forward returns relu(x) and leaves x alone", 1),
        RubricItem("runs", "backward returns one gradient shaped like x", 1),
        RubricItem("forward_mask", forward_mask, 2),
        RubricItem("backward_mask", "backward mask 1[g>0]", 2),
        RubricItem("values", "masks are 0/1 and multiply grad_output", 1),
        RubricItem("grad_output", "grad_output is left unchanged (skip connections)", 1),
        RubricItem("ctx", "per-call state kept on ctx with save_for_backward", 1),
        RubricItem("network", "matches gbp-widgets inside a small CNN", 1),
    )


def check_guided_relu(
    function: type[torch.autograd.Function],
    deconvnet: type[torch.autograd.Function] | None = None,
) -> Feedback:
    """Check a student's guided ReLU, whose backward passes ``g * 1[x>0] * 1[g>0]``.

    Pass the student's DeconvNet Function as ``deconvnet`` to have a swap of
    the two rules named as such.
    """
    return _ReluCheck(function, "guided", deconvnet).run()


def check_deconvnet_relu(
    function: type[torch.autograd.Function],
    guided: type[torch.autograd.Function] | None = None,
) -> Feedback:
    """Check a student's DeconvNet ReLU, whose backward passes ``g * 1[g>0]``.

    Pass the student's guided Function as ``guided`` to have a swap named.
    """
    return _ReluCheck(function, "deconvnet", guided).run()


def autograd_rule_problems(function: type[torch.autograd.Function], rule: str) -> str:
    """What ``function`` does against autograd's rules (``grad_output`` changed in place,
    per-call state kept outside ``ctx.save_for_backward``), as the rubric words it, or
    ``""``: the part of the rubric a network's numbers cannot always show."""
    feedback = _ReluCheck(function, rule, None).run()
    return " ".join(
        feedback.outcome(key).message
        for key in ("grad_output", "ctx")
        if feedback.outcome(key).status == "failed"
    )


class _ReluCheck:
    def __init__(self, function: object, rule: str, partner: object) -> None:
        self.function, self.rule, self.partner = function, rule, partner
        self.items = {item.key: item for item in rubric(rule)}
        self.outcomes: dict[str, Outcome] = {}
        self.calls = EngineCalls()
        # What the student's backward returned on the probe grid, called alone.
        self.alone = torch.zeros(0)

    def run(self) -> Feedback:
        with isolated():
            self._run_items()
        feedback = Feedback(f"your {RULE_NAMES[self.rule]} ReLU", flag=self.calls.flag())
        feedback.outcomes = [
            self.outcomes.get(key, Outcome(item, "not checked", "fix the items above first"))
            for key, item in self.items.items()
        ]
        return feedback

    def _record(self, key: str, problem: str) -> bool:
        status = "failed" if problem else "passed"
        self.outcomes[key] = Outcome(self.items[key], status, problem)
        return not problem

    def _run_items(self) -> None:
        x, g = probe_grid()
        try:
            out, leaf = self._forward(x)
        except StudentCodeError as err:
            self._record("forward", str(err))
            return
        if not self._record("forward", _forward_problem(out, x, leaf)):
            return
        ctx = out.grad_fn
        g_passed = g.clone()
        try:
            with self.calls, student("your backward"):
                returned = self.function.backward(ctx, g_passed)
        except StudentCodeError as err:
            self._record("runs", str(err))
            return
        problem, got = _returned_problem(returned, x)
        if not self._record("runs", problem):
            return
        self.alone = got.detach().float()
        self._record_masks(Probe(x, g, self.alone, self.rule))
        self._record("grad_output", self._grad_output_problem(g_passed, g))
        self._record("ctx", self._ctx_problem(ctx))
        if all(o.status == "passed" for o in self.outcomes.values()):
            self._record("network", self._network_problem())

    def _forward(self, x: torch.Tensor) -> tuple[object, torch.Tensor]:
        function = self.function
        if not (isinstance(function, type) and issubclass(function, torch.autograd.Function)):
            raise StudentCodeError(
                f"expected a torch.autograd.Function subclass, got {function!r}: define "
                "`class MyReLU(torch.autograd.Function)` with static forward and backward"
            )
        leaf = x.clone().requires_grad_(True)
        with self.calls, student("your forward"):
            return function.apply(leaf), leaf

    def _record_masks(self, probe: Probe) -> None:
        written = comparisons(probe)
        if written and any("<" in c for c in written if c):
            facts = reversed_facts(probe, *written)
        else:
            facts = mask_facts(probe)
        other = "deconvnet" if self.rule == "guided" else "guided"
        if probe.behaves_as(other):
            swap = self.partner is not None and self._partner_behaves_as(self.rule)
            facts["forward_mask"] += f" Your function computes {RULE_NAMES[other]}'s rule " + (
                f"{_FORMULAS[other]}, and your {RULE_NAMES[other]} function computes this "
                "one's: the two are swapped."
                if swap
                else f"{_FORMULAS[other]}: {_HANDED_IN_AS[self.rule]}"
            )
        elif probe.behaves_as("gradient"):
            key = "backward_mask" if facts["backward_mask"] else "forward_mask"
            facts[key] += f" Your function computes {_FORMULAS['gradient']}."
        for key in ("forward_mask", "backward_mask", "values"):
            self._record(key, facts[key])

    def _partner_behaves_as(self, rule: str) -> bool:
        x, g = probe_grid()
        try:
            with self.calls, student("the other function"):
                out = self.partner.apply(x.clone().requires_grad_(True))
                returned = self.partner.backward(out.grad_fn, g.clone())
        except (StudentCodeError, AttributeError, TypeError):
            return False
        problem, got = _returned_problem(returned, x)
        return not problem and Probe(x, g, got.detach().float(), rule).behaves_as(rule)

    def _grad_output_problem(self, g_after: torch.Tensor, g: torch.Tensor) -> str:
        if torch.equal(g_after, g):
            return ""
        told = (
            "your backward changes grad_output in place: after it ran, the tensor autograd "
            "passed in held different values."
        )
        skip = self._skip_connection_error()
        if skip:
            told += (
                " Autograd hands the same gradient tensor to every branch that used the "
                f"output, so in y = x + relu(x) the skip path got your changes too: {skip}."
            )
        return told + " Build a new tensor instead (grad_output * mask), or clone it first."

    def _skip_connection_error(self) -> str:
        x, g = probe_grid()
        leaf = x.clone().requires_grad_(True)
        try:
            with self.calls, student("your backward"):
                h = leaf * 1.0
                (grad,) = torch.autograd.grad(h + self.function.apply(h), leaf, g.clone())
        except StudentCodeError:
            return ""
        # The skip path adds g to what the ReLU's own backward returned when called alone.
        expected = g + self.alone
        wrong = ~torch.isclose(grad.float(), expected)
        if not wrong.any():
            return ""
        i = int(wrong.flatten().nonzero()[0])
        return (
            f"at x={float(x.flatten()[i]):g}, g={float(g.flatten()[i]):g} the input gradient "
            f"is {float(grad.flatten()[i]):g} instead of {float(expected.flatten()[i]):g}"
        )

    def _ctx_problem(self, ctx: object) -> str:
        shared = _shared_tensor_state(self.function)
        mixed = self._two_calls_error()
        if mixed:
            where = (
                f" Forward stores it in {', '.join(shared)}, which every call shares."
                if (shared)
                else ""
            )
            return (
                "with two calls in flight (two ReLUs in one network), the first call's backward "
                f"returned something else than when it ran alone ({mixed}): it used state from "
                f"the second call.{where} "
                "Keep what backward needs on ctx: ctx.save_for_backward(x) in forward, "
                "ctx.saved_tensors in backward."
            )
        on_ctx = [k for k, v in vars(ctx).items() if isinstance(v, torch.Tensor)]
        if on_ctx:
            names = ", ".join(f"ctx.{k}" for k in on_ctx)
            return (
                f"forward keeps tensors as attributes ({names}). Save tensors with "
                "ctx.save_for_backward(...) and read them with ctx.saved_tensors: autograd then "
                "checks nobody changed them in place before backward, and saving the output "
                "this way does not leak memory."
            )
        return ""

    def _two_calls_error(self) -> str:
        x, g = probe_grid()
        first = x.clone().requires_grad_(True)
        second = (-x.flip(0)).clone().requires_grad_(True)
        try:
            with self.calls, student("your function"):
                out = self.function.apply(first)
                self.function.apply(second)
                (grad,) = torch.autograd.grad(out, first, g.clone())
        except StudentCodeError:
            return ""
        wrong = ~torch.isclose(grad.float(), self.alone)
        return f"{100 * float(wrong.float().mean()):.0f}% of them" if wrong.any() else ""

    def _network_problem(self) -> str:
        torch.manual_seed(0)
        reference = SkipCNN().eval()
        images = torch.randn(2, 3, 16, 16)
        expected = GuidedBackprop(reference).explain(images, [1, 3], rule=self.rule).attribution
        student_model = SkipCNN(self.function.apply).eval()
        student_model.load_state_dict(reference.state_dict())
        leaf = images.clone().requires_grad_(True)
        try:
            with self.calls, student("your function"):
                logits = student_model(leaf)
                (grad,) = torch.autograd.grad(logits[0, 1] + logits[1, 3], leaf)
        except StudentCodeError as err:
            return f"inside a small CNN {err}"
        wrong = ~torch.isclose(grad, expected, atol=1e-6)
        if not wrong.any():
            return ""
        return (
            "every check above passed, but inside a small CNN your input gradient differs "
            f"from gbp-widgets' in {100 * float(wrong.float().mean()):.1f}% of its "
            f"{grad.numel():,} values"
        )


def _forward_problem(out: object, x: torch.Tensor, leaf: torch.Tensor) -> str:
    if isinstance(out, tuple) and any(
        isinstance(v, torch.Tensor) and not v.is_floating_point() for v in out
    ):
        return (
            "forward returns a (values, indices) pair, which is what torch.max(x, dim) gives: "
            "it reduces over a dimension. ReLU works element by element: return "
            "x.clamp(min=0) or torch.maximum(x, torch.zeros_like(x))"
        )
    if not isinstance(out, torch.Tensor):
        return f"forward returned a {type(out).__name__}, not a tensor: return relu(x)"
    if tuple(out.shape) != tuple(x.shape):
        return (
            f"forward returned shape {tuple(out.shape)} for an input of shape "
            f"{tuple(x.shape)}: ReLU keeps the shape"
        )
    if not torch.equal(leaf.detach(), x):
        return (
            "forward changed its input x in place: return a new tensor (x.clamp(min=0)), "
            "because other layers may still need x"
        )
    wrong = ~torch.isclose(out.detach(), F.relu(x))
    if wrong.any():
        i = int(wrong.flatten().nonzero()[0])
        value = float(x.flatten()[i])
        return (
            f"forward must return relu(x) = max(x, 0) element by element, but for x={value:g} "
            f"it returns {float(out.flatten()[i]):g}, not {max(value, 0.0):g}"
        )
    return ""


def _returned_problem(returned: object, x: torch.Tensor) -> tuple[str, torch.Tensor]:
    values = tuple(returned) if isinstance(returned, (tuple, list)) else (returned,)
    if not values:
        return "backward returned nothing (an empty tuple): return the gradient for x", x
    first, extras = values[0], values[1:]
    filled = [i + 1 for i, v in enumerate(values) if v is not None]
    if first is None and filled:
        return (
            f"backward puts the gradient in slot {filled[0]} of what it returns, but forward "
            "has one tensor input, x, so its gradient goes first: return it alone"
        ), x
    if any(v is not None for v in extras):
        return (
            f"backward returned {len(values)} gradients, but forward takes one tensor input "
            "(x), so it returns one: the gradient for x"
        ), x
    if first is None:
        return (
            "backward returned None, which tells autograd that no gradient reaches x: "
            "return the gradient tensor"
        ), x
    if not isinstance(first, torch.Tensor):
        return f"backward returned a {type(first).__name__}, not a tensor", x
    if tuple(first.shape) != tuple(x.shape):
        summed = " (did you sum it?)" if first.dim() == 0 else ""
        return (
            f"backward returned a gradient of shape {tuple(first.shape)}{summed}; it must have "
            f"the shape of x, {tuple(x.shape)}"
        ), x
    return "", first


def _shared_tensor_state(function: type) -> list[str]:
    """Names of class attributes and module globals of ``function`` that hold tensors."""
    names = [
        f"{function.__name__}.{k}" for k, v in vars(function).items() if isinstance(v, torch.Tensor)
    ]
    forward_globals = getattr(function.forward, "__globals__", {})
    names += [f"the global {k}" for k, v in forward_globals.items() if isinstance(v, torch.Tensor)]
    return names


class SkipCNN(nn.Module):
    """A small CNN for ``(N, 3, 16, 16)`` inputs with a skip connection around one ReLU.

    ``rectifier`` replaces ``F.relu`` at both ReLUs (e.g. a student's ``Function.apply``).
    """

    def __init__(self, rectifier: Callable[[torch.Tensor], torch.Tensor] = F.relu) -> None:
        super().__init__()
        self.rectifier = rectifier
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.rectifier(self.conv1(x))
        x = x + self.rectifier(self.conv2(x))
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))
