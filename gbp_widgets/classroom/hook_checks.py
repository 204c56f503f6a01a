"""Checks for a student's module-hook guided backprop ("the ReLU the hooks miss").

The student writes ``function(model, images, target) -> attribution`` the classic
way: backward hooks on ReLU modules that clamp the gradient. It is compared
with the engine on three small models: ReLUs as ``nn.ReLU`` modules, as
``nn.ReLU6`` modules (MobileNet-V2's wiring) and as ``F.relu`` in ``forward``
(DenseNet's). While the student's function runs, a global module hook notes
which ReLU modules carried a hook when they were called, so a mismatch is
explained by the calls that had none, as observed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gbp_widgets.classroom.feedback import Feedback, Outcome, RubricItem
from gbp_widgets.classroom.student_code import EngineCalls, StudentCodeError, isolated, student
from gbp_widgets.engine import GuidedBackprop

HookFunction = Callable[[nn.Module, torch.Tensor, int], torch.Tensor]
_RELU_MODULES = (nn.ReLU, nn.Hardtanh)
_TARGET = 1

RUBRIC = (
    RubricItem("relu_modules", "guided on a CNN built from nn.ReLU modules", 3),
    RubricItem("relu6", "guided on a MobileNet-V2-style CNN (nn.ReLU6)", 2),
    RubricItem("functional", "guided on a DenseNet-style CNN (F.relu in forward)", 2),
    RubricItem("leaves_model", "leaves the model as it was (no hooks, flags or .grad)", 1),
)


def check_hook_guided_backprop(
    function: HookFunction, only: tuple[str, ...] | None = None
) -> Feedback:
    """Check ``function(model, images, target)``: the ``(N, C, H, W)`` guided-backprop
    gradient of ``model(images)[:, target]`` with respect to ``images``.

    ``only`` names the rubric items to check (all of :data:`RUBRIC` by default),
    e.g. ``("relu_modules", "leaves_model")`` before the misses are fixed.
    """
    keys = only or tuple(item.key for item in RUBRIC)
    unknown = set(keys) - {item.key for item in RUBRIC}
    if unknown:
        raise ValueError(f"unknown rubric items {sorted(unknown)}: use {[i.key for i in RUBRIC]}")
    calls = EngineCalls()
    outcomes: list[Outcome] = []
    errors: list[str] = []
    leftovers: list[str] = []
    ran_to_the_end = False
    with isolated():
        for item, model_class in zip(RUBRIC[:3], (ReLUNet, ReLU6Net, FunctionalNet), strict=True):
            if item.key not in keys:
                continue
            torch.manual_seed(0)
            model = model_class().eval()
            images = torch.randn(2, 3, 16, 16)
            run = _Run(function, model, images, _TARGET, calls)
            problem = run.problem()
            if problem and problem in errors:
                problem = "your function raised the same error as above"
            if run.raised:
                errors.append(problem)
            ran_to_the_end |= not run.raised
            leftovers += [p for p in run.leftovers() if p not in leftovers]
            outcomes.append(Outcome(item, "failed" if problem else "passed", problem))
    last = RUBRIC[-1]
    if last.key in keys:
        outcomes.append(_leaves_model_outcome(last, leftovers, ran_to_the_end))
    return Feedback("your hook-based guided backprop", outcomes, flag=calls.flag())


def _leaves_model_outcome(item: RubricItem, leftovers: list[str], ran: bool) -> Outcome:
    """A function that never returned earns nothing for what it left alone: a blank
    submission leaves every model as it was."""
    if leftovers:
        return Outcome(item, "failed", "; ".join(leftovers))
    if not ran:
        return Outcome(item, "not checked", "your function has to run to the end first")
    return Outcome(item, "passed")


def hook_mismatch(
    function: HookFunction, model: nn.Module, images: torch.Tensor, target: int
) -> str:
    """Why ``function`` disagrees with the engine's guided map on ``model``, or ``""``.

    ``images`` is an ``(N, C, H, W)`` float tensor; ``target`` a class index.
    The model is used as it is (put it in eval mode first).
    """
    with isolated():
        return _Run(function, model, images, target, EngineCalls()).problem()


def calls_missed_by_relu_hooks(model: nn.Module, images: torch.Tensor, target: int) -> list[str]:
    """Names of the engine's sites (ReLU-family calls) that hooks on ``nn.ReLU`` modules
    cannot see: calls of other modules (``nn.ReLU6``) and calls made inside a ``forward``."""
    with isolated():
        sites = GuidedBackprop(model).explain(images[:1], target).sites
    return [s.name for s in sites if not isinstance(_submodule(model, _site_path(s.name)), nn.ReLU)]


def check_missed_calls(
    answer: object, model: nn.Module, images: torch.Tensor, target: int, title: str
) -> Feedback:
    """Check a student's answer to "which ReLU calls do hooks on nn.ReLU miss on this model?".

    ``answer`` is a list of site names, a count of them, or a function of no
    arguments returning either. The truth is :func:`calls_missed_by_relu_hooks`;
    a wrong answer is told what is off without being given the answer.
    """
    item = RubricItem("missed", title, 1)
    try:
        if callable(answer):
            with student("your answer"):
                answer = answer()
        problem = _missed_answer_problem(answer, calls_missed_by_relu_hooks(model, images, target))
    except StudentCodeError as err:
        problem = str(err)
    return Feedback("your answer", [Outcome(item, "failed" if problem else "passed", problem)])


def _site_path(site: str) -> str:
    return site.rsplit("#", 1)[0]


def _missed_answer_problem(answer: object, truth: list[str]) -> str:
    if answer is None or answer is Ellipsis:
        return "no answer yet"
    if isinstance(answer, str):
        answer = [answer]
    if isinstance(answer, bool) or not isinstance(answer, (int, list, tuple, set)):
        return f"expected a list of site names or a number, got {type(answer).__name__}"
    if isinstance(answer, int):
        if answer == len(truth):
            return ""
        return (
            f"not {answer}: count the sites (one per ReLU call) that are not calls of an "
            "nn.ReLU module: other ReLU-family modules, and calls made inside a forward"
        )
    named = [str(a) for a in answer]
    extra = [n for n in named if n not in truth]
    lacking = [n for n in truth if n not in named]
    told = []
    if extra:
        told.append(
            f"{', '.join(extra)} {'is not a call' if len(extra) == 1 else 'are not calls'} "
            "that hooks on nn.ReLU miss"
        )
    if lacking:
        told.append(f"your list lacks {len(lacking)} missed call(s)")
    return "; ".join(told)


@dataclass
class _State:
    hooks: dict[str, int]
    inplace: dict[str, bool]
    training: dict[str, bool]


def _model_state(model: nn.Module) -> _State:
    hooks, inplace, training = {}, {}, {}
    for name, module in model.named_modules():
        hooks[name] = sum(
            len(d)
            for d in (
                module._forward_hooks,
                module._forward_pre_hooks,
                module._backward_hooks,
                module._backward_pre_hooks,
            )
        )
        if hasattr(module, "inplace"):
            inplace[name] = module.inplace
        training[name] = module.training
    return _State(hooks, inplace, training)


class _Run:
    """One call of the student's function on one model, next to the engine's maps."""

    def __init__(self, function, model, images, target, calls: EngineCalls) -> None:
        self.function, self.model, self.images, self.target = function, model, images, target
        self.calls = calls
        self.raised = False
        # One recorded forward serves the three rules' backward passes and names the sites.
        recording = GuidedBackprop(model).record(images, capture_masks=False)
        explanations = {
            rule: recording.explain(target, rule) for rule in ("guided", "gradient", "deconvnet")
        }
        self.engine = {rule: e.attribution for rule, e in explanations.items()}
        self.sites = [s.name for s in explanations["guided"].sites]
        self.before = _model_state(model)
        self.hooked: dict[str, bool] = {}

    def problem(self) -> str:
        try:
            got = self._call_student()
        except StudentCodeError as err:
            self.raised = True
            return str(err)
        if not isinstance(got, torch.Tensor):
            return f"your function returned a {type(got).__name__}, not a tensor"
        if tuple(got.shape) != tuple(self.images.shape):
            return (
                f"your function returned shape {tuple(got.shape)}; the gradient with respect "
                f"to the images has their shape, {tuple(self.images.shape)}"
            )
        return self._compare(got.detach().float())

    def _call_student(self) -> object:
        paths = {id(m): name for name, m in self.model.named_modules()}

        def observe(module, args, output):
            if id(module) in paths and isinstance(module, _RELU_MODULES):
                hooked = bool(module._backward_hooks or module._backward_pre_hooks)
                hooked |= bool(module._forward_hooks or module._forward_pre_hooks)
                self.hooked[paths[id(module)]] = hooked

        handle = nn.modules.module.register_module_forward_hook(observe)
        images = self.images.clone()
        try:
            with self.calls, student("your function"):
                return self.function(self.model, images, self.target)
        finally:
            handle.remove()

    def _compare(self, got: torch.Tensor) -> str:
        if _close(got, self.engine["guided"]):
            return ""
        if _close(got, self.engine["deconvnet"]):
            return (
                "your map is DeconvNet's: clamping grad_output (the gradient arriving at the "
                "ReLU's output) drops the forward mask 1[x>0]. Clamp grad_input, which autograd "
                "has already masked by 1[x>0]"
            )
        plain = _close(got, self.engine["gradient"])
        if plain:
            fact = "your map is the plain input gradient"
        else:
            wrong = ~torch.isclose(got, self.engine["guided"], rtol=1e-4, atol=_atol(got))
            share = 100 * float(wrong.float().mean())
            fact = (
                f"your map differs from the engine's guided map in {share:.1f}% of its "
                f"{got.numel():,} values"
            )
        missed = self._missed()
        if missed:
            return f"{fact}. {missed}"
        if plain and not any(self.hooked.values()):
            return f"{fact}: no ReLU module carried a hook when the model ran"
        if plain:
            return (
                f"{fact}: your hooks did not change any gradient. A backward hook changes the "
                "gradient only by returning a new grad_input tuple"
            )
        return fact

    def _missed(self) -> str:
        missed_modules, functional = [], []
        for site in self.sites:
            path = _site_path(site)
            module = _submodule(self.model, path)
            if isinstance(module, _RELU_MODULES):
                if not self.hooked.get(path, False) and path not in missed_modules:
                    missed_modules.append(path)
            elif site not in functional:
                functional.append(site)
        told = []
        if missed_modules:
            kinds = sorted({type(_submodule(self.model, p)).__name__ for p in missed_modules})
            told.append(
                f"These {'/'.join(kinds)} modules had no hook when the model ran: "
                f"{_some(missed_modules)}"
                + (
                    " (nn.ReLU6 is not a subclass of nn.ReLU, so isinstance(m, nn.ReLU) skips it)"
                    if "ReLU6" in kinds
                    else ""
                )
            )
        if functional:
            told.append(
                "The engine also sees ReLU calls made inside a forward, which no module hook "
                f"can catch: {_some(functional)}. While the model runs, make F.relu itself "
                "guided (swap torch.nn.functional.relu for your guided Function and put it back "
                "in a finally), or hook the tensor such a call is applied to"
            )
        return ". ".join(told)

    def leftovers(self) -> list[str]:
        after = _model_state(self.model)
        told = []
        if any(k > self.before.hooks.get(n, 0) for n, k in after.hooks.items()):
            told.append("hooks stay on the model after your function returns: remove each handle")
        if any(self.before.inplace.get(n) != v for n, v in after.inplace.items()):
            told.append("module.inplace was changed and not put back")
        if after.training != self.before.training:
            told.append("the model's train/eval mode was changed")
        if any(p.grad is not None for p in self.model.parameters()):
            told.append(
                "parameters are left with a .grad: use torch.autograd.grad, not .backward()"
            )
        return told


def _close(got: torch.Tensor, expected: torch.Tensor) -> bool:
    return torch.allclose(got, expected, rtol=1e-4, atol=_atol(expected))


def _atol(t: torch.Tensor) -> float:
    return 1e-5 * max(float(t.abs().max()), 1e-12)


def _submodule(model: nn.Module, path: str) -> nn.Module | None:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def _some(names: list[str], shown: int = 4) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


class ReLUNet(nn.Module):
    """``(N, 3, H, W)`` -> 5 classes; ReLUs are ``nn.ReLU`` modules, one in place."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(inplace=True),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


class ReLU6Net(ReLUNet):
    """Like :class:`ReLUNet` with MobileNet-V2's in-place ``nn.ReLU6`` activations."""

    def __init__(self) -> None:
        super().__init__()
        self.features[2] = nn.ReLU6(inplace=True)
        self.features[4] = nn.ReLU6(inplace=True)


class FunctionalNet(ReLUNet):
    """DenseNet's wiring: ``nn.ReLU`` modules inside, then ``F.relu`` in ``forward``."""

    def __init__(self) -> None:
        super().__init__()
        self.features[4] = nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.features(x), inplace=True)
        return self.head(F.adaptive_avg_pool2d(out, 1).flatten(1))
