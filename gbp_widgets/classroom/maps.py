"""Students' own functions on real models, next to the engine: the assignments' last cells
and hidden tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torchvision
from torch import nn

from gbp_widgets.classroom.relu_checks import autograd_rule_problems
from gbp_widgets.classroom.student_code import StudentCodeError, isolated, student
from gbp_widgets.engine import GuidedBackprop
from gbp_widgets.images import sample_image
from gbp_widgets.models import LoadedModel, load_model
from gbp_widgets.pictures import render
from gbp_widgets.pictures.colour_keys import clip_note, display_key
from gbp_widgets.pictures.figures import NotebookFigure, panel_figure


class StudentActivation(nn.Module):
    """A ReLU (or ReLU6 when ``upper`` is 6) computed by a student's Function.

    ReLU6 is the student's ReLU followed by ``clamp(max=upper)``: the clamp's
    backward zeroes the gradient where ``x >= upper``, so under the guided rule
    the pair passes exactly ``g * 1[0<x<upper] * 1[g>0]``, the engine's ReLU6.
    """

    def __init__(self, function: type[torch.autograd.Function], upper: float | None) -> None:
        super().__init__()
        self.function, self.upper = function, upper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.function.apply(x)
        return y if self.upper is None else y.clamp(max=self.upper)


def with_student_relu(model: nn.Module, function: type[torch.autograd.Function]) -> nn.Module:
    """A copy of ``model`` whose ``nn.ReLU`` / ``nn.ReLU6`` / ``Hardtanh(0, k)`` modules
    run ``function``; ``model`` itself is not touched."""
    copied = copy.deepcopy(model)
    for name, module in list(copied.named_modules()):
        upper = _relu_upper(module)
        if upper is not False:
            copied.set_submodule(name, StudentActivation(function, upper))
    return copied


def _relu_upper(module: nn.Module) -> float | None | bool:
    """``None`` for a ReLU, ``k`` for ReLU6 / Hardtanh(0, k), ``False`` for anything else."""
    if isinstance(module, nn.ReLU):
        return None
    if isinstance(module, nn.Hardtanh) and module.min_val == 0:
        return float(module.max_val)
    return False


class ReluBeforeAddition(nn.Module):
    """A torchvision ``BasicBlock`` rewired as "ReLU before addition" (He et al. 2016,
    *Identity Mappings in Deep Residual Networks*, Fig. 4c): ``x + relu(bn2(conv2(...)))``.

    The ReLU's output meets the skip connection directly, so autograd hands the
    ReLU's backward the very gradient tensor the skip path reads: a backward that
    edits ``grad_output`` in place changes the skip path's gradient too.
    """

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.block
        out = b.relu(b.bn2(b.conv2(b.relu(b.bn1(b.conv1(x))))))
        return out + (x if b.downsample is None else b.downsample(x))


def hidden_resnet18() -> nn.Module:
    """A random-weight ResNet-18 for ``(N, 3, H, W)`` inputs and 10 classes whose blocks put
    the ReLU before the addition; in eval mode."""
    torch.manual_seed(1)
    model = torchvision.models.resnet18(num_classes=10)
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for i, block in enumerate(layer):
            layer[i] = ReluBeforeAddition(block)
    return model.eval()


def relu_network_mismatch(function: type[torch.autograd.Function], rule: str) -> str:
    """Why ``function`` in every ReLU of :func:`hidden_resnet18` disagrees with the engine
    under ``rule``, or ``""`` when it matches and keeps autograd's rules (``grad_output``
    untouched, per-call state saved on ``ctx``) as the visible checks demand."""
    where = "in a ResNet-18 with the ReLU before each addition"
    with isolated():
        model = hidden_resnet18()
        images = torch.randn(2, 3, 64, 64)
        expected = GuidedBackprop(model).explain(images, [2, 7], rule=rule).attribution
        try:
            got = _input_gradient(with_student_relu(model, function), images, [2, 7])
        except StudentCodeError as err:
            return f"{where}, {err}"
        wrong = ~torch.isclose(got, expected, rtol=1e-4, atol=1e-6 * float(expected.abs().max()))
        if wrong.any():
            share = 100 * float(wrong.float().mean())
            return (
                f"{where}, your input gradient differs from the engine's in {share:.1f}% of "
                f"its {got.numel():,} values"
            )
        broken = autograd_rule_problems(function, rule)
    return f"{where}, your map matches the engine's, but {broken}" if broken else ""


def _input_gradient(model: nn.Module, images: torch.Tensor, targets: list[int]) -> torch.Tensor:
    leaf = images.clone().requires_grad_(True)
    with student("your function"):
        logits = model(leaf)
        chosen = logits[torch.arange(len(targets)), torch.tensor(targets)].sum()
        (grad,) = torch.autograd.grad(chosen, leaf)
    return grad


@dataclass
class _PhotoPanels:
    """A sample photo, the pretrained model's guided map of it from the engine, and the
    panels (photo and that map) that students' maps are added to."""

    loaded: LoadedModel
    images: torch.Tensor
    engine: torch.Tensor
    target: int
    panels: dict[str, object]

    @classmethod
    def of(cls, image: str) -> _PhotoPanels:
        loaded = load_model()
        photo = loaded.preprocess.crop(sample_image(image))
        images = loaded.preprocess.normalize(photo)[None]
        engine = GuidedBackprop(loaded.model).explain(images, rule="guided")
        panels = {
            "photo": render.as_array(photo),
            "gbp-widgets, guided": render.saliency(engine.attribution[0]),
        }
        return cls(loaded, images, engine.attribution, int(engine.target[0]), panels)

    def add(self, caption: str, attribution: torch.Tensor) -> None:
        self.panels[caption] = render.saliency(attribution[0])

    def match_note(self, attribution: torch.Tensor) -> str:
        difference = float((attribution - self.engine).abs().max())
        scale = float(self.engine.abs().max())
        verdict = "they match" if difference <= 1e-4 * scale else "they do NOT match"
        return f"largest difference from the engine: {difference:.2g} (of {scale:.2g}): {verdict}"

    def figure(self, notes: list[str]) -> NotebookFigure:
        title = f"{self.loaded.name}, class explained: {self.loaded.classes[self.target]}"
        maps = {caption: display_key("saliency") for caption in list(self.panels)[1:]}
        note = "\n".join([*notes, clip_note()])
        return panel_figure(self.panels, title=title, note=note, keys=maps)


def relu_maps_figure(
    guided: type[torch.autograd.Function],
    deconvnet: type[torch.autograd.Function] | None = None,
    image: str = "chelsea",
) -> NotebookFigure:
    """The pretrained model's guided map from the engine beside the one from the student's
    ``guided`` Function (they must match), and the student's DeconvNet map."""
    notes = []
    with isolated():
        shown = _PhotoPanels.of(image)
        for caption, function in (("yours, guided", guided), ("yours, DeconvNet", deconvnet)):
            if function is None:
                continue
            model = with_student_relu(shown.loaded.model, function)
            try:
                got = _input_gradient(model, shown.images, [shown.target])
            except StudentCodeError as err:
                notes.append(f"{caption}: {err}")
                continue
            shown.add(caption, got)
            if caption == "yours, guided":
                notes.append(shown.match_note(got))
    return shown.figure(notes)


def hook_maps_figure(
    functions: dict[str, Callable[[nn.Module, torch.Tensor, int], torch.Tensor]],
    image: str = "chelsea",
) -> NotebookFigure:
    """The pretrained model (ReLU6 activations) explained by the engine and by each of the
    student's hook functions, captioned by their names."""
    notes = []
    with isolated():
        shown = _PhotoPanels.of(image)
        for caption, function in functions.items():
            try:
                with student(caption):
                    got = function(shown.loaded.model, shown.images.clone(), shown.target)
            except StudentCodeError as err:
                notes.append(str(err))
                continue
            shown.add(caption, got.detach())
            notes.append(f"{caption}: {shown.match_note(got.detach())}")
    return shown.figure(notes)
