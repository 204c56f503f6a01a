"""Grad-CAM at a chosen layer, and Guided Grad-CAM: Grad-CAM times the guided map."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gbp_widgets.engine.explain import GuidedBackprop
from gbp_widgets.engine.explanation import Explanation, warn_about_coverage
from gbp_widgets.engine.inputs import prepare_inputs
from gbp_widgets.engine.outputs import OutputChoice
from gbp_widgets.engine.recording import Recording
from gbp_widgets.engine.targets import Target


@dataclass(frozen=True)
class GuidedGradCAM:
    """Grad-CAM, the guided map, and their product, for one batch.

    ``cam``: ``(N, 1, H, W)`` Grad-CAM upsampled to the input size, scaled
    per item to [0, 1]. ``guided``: the guided-backprop :class:`Explanation`.
    ``product``: ``(N, C, H, W)`` guided attribution times ``cam``. ``layer``:
    the module path Grad-CAM was computed at. Tensors are on the input's device.
    """

    cam: torch.Tensor
    guided: Explanation
    product: torch.Tensor
    layer: str


def guided_gradcam(
    model: nn.Module,
    inputs: torch.Tensor,
    target: Target = None,
    layer: str | nn.Module | None = None,
    output: OutputChoice = None,
    activations: str = "relu",
) -> GuidedGradCAM:
    """Guided Grad-CAM of ``target`` (as in :meth:`GuidedBackprop.explain`).

    ``inputs``: ``(N, C, H, W)`` or ``(C, H, W)`` float tensor. ``layer`` is a
    module path such as ``"layer4"``, the module itself, or ``None`` for the
    last module whose output is a ``(N, C, H, W)`` map with more than one pixel.
    The layer's output is used as the layer returned it, even when the model
    edits it in place afterwards. One forward pass serves both backward passes
    (plain gradient to the layer, guided to the input); a second is needed
    only when ``layer=None`` finds a map that a later in-place edit changed.
    ``activations`` is the guided half's (see :class:`GuidedBackprop`).
    """
    engine = GuidedBackprop(model, activations=activations)
    path = _layer_path(model, layer)
    recording = engine.record(
        inputs, keep=(path,) if path else (), keep_last_spatial=path is None, output=output
    )
    if path is None and recording.last_spatial_changed:
        path = recording.last_spatial[0]
        recording = engine.record(inputs, keep=(path,), output=output)
    result = guided_gradcam_from(recording, target, path, retain=False)
    warn_about_coverage(result.guided)
    prepared = prepare_inputs(model, inputs)
    return GuidedGradCAM(
        cam=prepared.as_given((result.cam,)),
        guided=result.guided.replace(attribution=prepared.as_given((result.guided.attribution,))),
        product=prepared.as_given((result.product,)),
        layer=result.layer,
    )


def guided_gradcam_from(
    recording: Recording,
    target: Target = None,
    layer: str | None = None,
    retain: bool = True,
    guided: Explanation | None = None,
) -> GuidedGradCAM:
    """Guided Grad-CAM from an existing recording, without warnings: the one place the
    Grad-CAM map and the guided map are combined.

    The recording must keep ``layer``'s output (``keep=(layer,)``) or, for
    ``layer=None``, the last spatial output (``keep_last_spatial=True``).
    Tensors are ``(N, ...)`` on the model's device. ``retain=False`` frees the
    recording's graph after use. ``guided``: the guided :class:`Explanation` of the
    same recording and target when the caller has it already (no second pass).
    """
    path, activations = layer_activations(recording, layer)
    cam, resolved = gradcam_map(recording, activations, target)
    if guided is None:
        guided = recording.explain(resolved, "guided", retain=retain)
    return GuidedGradCAM(cam=cam, guided=guided, product=guided.attribution * cam, layer=path)


def gradcam_map(
    recording: Recording, activations: torch.Tensor, target: Target
) -> tuple[torch.Tensor, object]:
    """Grad-CAM from a recording: ``(N, 1, H, W)`` in [0, 1] at the input size.

    ``activations`` is the ``(N, C, h, w)`` layer output kept by the recording.
    Returns the map and the resolved target.
    """
    plain = recording.backprop(target, "gradient", extra=(activations,))
    weights = plain.extra_grads[0].mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activations.detach()).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=recording.input.shape[-2:], mode="bilinear", align_corners=False)
    peak = cam.amax(dim=(2, 3), keepdim=True)
    return torch.where(
        peak > 0, cam / peak.clamp_min(torch.finfo(cam.dtype).tiny), 0.0
    ), plain.target


def _layer_path(model: nn.Module, layer: str | nn.Module | None) -> str | None:
    if layer is None:
        return None
    paths = dict(model.named_modules())
    if isinstance(layer, nn.Module):
        for path, module in paths.items():
            if module is layer and path:
                return path
        raise ValueError("the layer module given is not a submodule of this model")
    if layer not in paths or not layer:
        spatial = [p for p, m in paths.items() if isinstance(m, nn.modules.conv._ConvNd)][-3:]
        raise ValueError(
            f"no module called {layer!r} in this model; give a module path from "
            f"model.named_modules(), e.g. {', '.join(repr(p) for p in spatial) or 'a conv layer'}"
        )
    return layer


def layer_activations(recording: Recording, path: str | None) -> tuple[str, torch.Tensor]:
    """The ``(N, C, h, w)`` output of module ``path`` kept by ``recording`` (the last
    spatial one for ``None``), with its path; ``ValueError`` if there is none."""
    if path is None:
        if recording.last_spatial is None:
            raise ValueError(
                "no module of this model returned a (N, C, H, W) feature map larger than "
                "1 x 1, so Grad-CAM has nothing to weight; pass layer= explicitly"
            )
        if recording.last_spatial_changed:
            found = recording.last_spatial[0]
            raise ValueError(
                f"the output of {found!r}, the last feature map, was changed in place later "
                f"in the forward pass; record again with keep=({found!r},) and pass "
                f"layer={found!r}"
            )
        return recording.last_spatial
    output = recording.kept.get(path)
    if output is None or output.dim() != 4:
        raise ValueError(
            f"module {path!r} did not return a (N, C, H, W) tensor during the forward pass, "
            "so Grad-CAM cannot use it; choose a convolutional block"
        )
    return path, output
