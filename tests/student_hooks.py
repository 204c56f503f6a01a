"""Student submissions for "the ReLU the hooks miss": the classic recipe, its fixes, and
typical mistakes."""

import torch
import torch.nn.functional as F
from torch import nn

from tests.student_relus import RIGHT_GUIDED

GuidedReLU = RIGHT_GUIDED["float masks"]


def clamp_grad_input(module, grad_input, grad_output):
    return (grad_input[0].clamp(min=0),)


def hooked(kinds, hook=clamp_grad_input, restore_inplace=True, remove=True, patch_relu=False):
    """Guided backprop by full backward hooks on modules of ``kinds``."""

    def guided(model, images, target):
        handles, inplace = [], {}
        original_relu = F.relu
        try:
            for module in model.modules():
                if isinstance(module, kinds):
                    if getattr(module, "inplace", False):
                        inplace[module] = True
                        module.inplace = False
                    handles.append(module.register_full_backward_hook(hook))
            if patch_relu:
                torch.nn.functional.relu = guided_relu
            images = images.clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(model(images)[:, target].sum(), images)
            return grad
        finally:
            torch.nn.functional.relu = original_relu
            if remove:
                for handle in handles:
                    handle.remove()
            if restore_inplace:
                for module, flag in inplace.items():
                    module.inplace = flag

    return guided


def guided_relu(x, inplace=False):
    return GuidedReLU.apply(x)


def legacy_recipe(model, images, target):
    """The seeds' recipe: register_backward_hook on nn.ReLU only."""
    handles = [
        m.register_backward_hook(clamp_grad_input)
        for m in model.modules()
        if isinstance(m, nn.ReLU)
    ]
    try:
        images = images.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(images)[:, target].sum(), images)
        return grad
    finally:
        for handle in handles:
            handle.remove()


def full_hooks_in_place(model, images, target):
    """Full backward hooks left on in-place ReLUs: torch refuses."""
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.register_full_backward_hook(clamp_grad_input)
    images = images.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(images)[:, target].sum(), images)
    return grad


def clamp_grad_output(module, grad_input, grad_output):
    return (grad_output[0].clamp(min=0),)


def forgets_to_return(module, grad_input, grad_output):
    grad_input[0].clamp(min=0)


RELU_ONLY = hooked(nn.ReLU)
WITH_RELU6 = hooked((nn.ReLU, nn.ReLU6))
FIXED = hooked((nn.ReLU, nn.ReLU6), patch_relu=True)
