"""Student submissions for the guided-ReLU assignment: right ones written nine ways, and
one for each mistake the checker must name."""

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable


def relu_function(backward, save=lambda x, y: x):
    """A Function whose forward saves ``save(x, relu(x))`` and whose backward is
    ``backward(saved, g)``."""

    class StudentReLU(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.clamp(min=0)
            ctx.save_for_backward(save(x, y))
            return y

        @staticmethod
        def backward(ctx, g):
            (saved,) = ctx.saved_tensors
            return backward(saved, g)

    return StudentReLU


def guided(x, g):
    return g * (x > 0).float() * (g > 0).float()


class SetupContext(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return x.clamp(min=0)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0) * (g > 0)


class OnceDifferentiable(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return F.relu(x)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0) * (g > 0)


RIGHT_GUIDED = {
    "float masks": relu_function(guided),
    "where": relu_function(lambda x, g: torch.where((x > 0) & (g > 0), g, torch.zeros_like(g))),
    "clamp": relu_function(lambda x, g: g.clamp(min=0) * (x > 0)),
    "masked_fill": relu_function(lambda x, g: g.masked_fill((x <= 0) | (g <= 0), 0)),
    "saves the output": relu_function(lambda y, g: g * (y > 0) * (g > 0), save=lambda x, y: y),
    "saves a bool mask": relu_function(lambda m, g: g * m * (g > 0), save=lambda x, y: x > 0),
    "trailing None": relu_function(lambda x, g: (guided(x, g), None)),
    "setup_context": SetupContext,
    "once_differentiable": OnceDifferentiable,
}


class InPlace(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        g[x <= 0] = 0
        return g.clamp_(min=0)


class ForgotToSave(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0) * (g > 0)


class ClassAttribute(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ClassAttribute.last = x.detach().clone()
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        return g * (ClassAttribute.last > 0) * (g > 0)


class CtxAttribute(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.x > 0) * (g > 0)


class TorchMax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.max(x, 0)

    @staticmethod
    def backward(ctx, g, indices):
        (x,) = ctx.saved_tensors
        return g * (x > 0) * (g > 0)


class Typo(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        mask = (x > 0) * (g > 0).floatt()
        return g * mask


class Placeholder(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, g):
        raise NotImplementedError


class Delegates(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        from gbp_widgets.engine import apply_rule

        (x,) = ctx.saved_tensors
        return apply_rule("guided", g, x, None)


class ForwardSums(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0).sum(0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0) * (g > 0)


class ForwardInPlace(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.clamp_(min=0)
        ctx.save_for_backward(y)
        return y.clone()

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y > 0) * (g > 0)


DECONVNET = relu_function(lambda x, g: g * (g > 0))
PLAIN_GRADIENT = relu_function(lambda x, g: g * (x > 0))

# (submission, the one rubric item it fails, words the message must contain)
WRONG_GUIDED = {
    "plain ReLU gradient": (PLAIN_GRADIENT, "backward_mask", "plain ReLU gradient"),
    "mask from grad_output": (
        relu_function(lambda x, g: g * (g > 0) * (g > 0)),
        "forward_mask",
        "building it from grad_output instead of the saved input",
    ),
    "mask from the input twice": (
        relu_function(lambda x, g: g * (x > 0) * (x > 0)),
        "backward_mask",
        "building it from the saved input instead of grad_output",
    ),
    ">= instead of >": (
        relu_function(lambda x, g: g * (x >= 0) * (g > 0)),
        "forward_mask",
        "use a strict x > 0, not x >= 0",
    ),
    "activations as the mask": (
        relu_function(lambda x, g: g * x.clamp(min=0) * (g > 0)),
        "values",
        "instead of the 0/1 mask 1[x>0]",
    ),
    "returns the mask": (
        relu_function(lambda x, g: ((x > 0) & (g > 0)).float()),
        "values",
        "returns the mask itself",
    ),
    "flipped sign": (relu_function(lambda x, g: -guided(x, g)), "values", "sign is flipped"),
    "grad_output in place": (InPlace, "grad_output", "the skip path got your changes too"),
    "gradient in the wrong slot": (
        relu_function(lambda x, g: (None, guided(x, g))),
        "runs",
        "puts the gradient in slot 2",
    ),
    "too many gradients": (
        relu_function(lambda x, g: (guided(x, g), guided(x, g))),
        "runs",
        "returned 2 gradients",
    ),
    "too few gradients": (relu_function(lambda x, g: ()), "runs", "returned nothing"),
    "returns None": (relu_function(lambda x, g: None), "runs", "returned None"),
    "summed gradient": (
        relu_function(lambda x, g: guided(x, g).sum()),
        "runs",
        "shape () (did you sum it?)",
    ),
    "forgot save_for_backward": (ForgotToSave, "runs", "must call ctx.save_for_backward(x)"),
    "state outside ctx": (ClassAttribute, "ctx", "ClassAttribute.last, which every call shares"),
    "tensor as a ctx attribute": (CtxAttribute, "ctx", "keeps tensors as attributes (ctx.x)"),
    "torch.max(x, 0)": (TorchMax, "forward", "what torch.max(x, dim) gives"),
    "forward changes the shape": (ForwardSums, "forward", "forward returned shape (6,)"),
    "forward changes x in place": (ForwardInPlace, "forward", "changed its input x in place"),
    "DeconvNet's rule": (DECONVNET, "forward_mask", "computes DeconvNet's rule"),
    "a typo": (Typo, "runs", "`mask = (x > 0) * (g > 0).floatt()`"),
    "placeholder": (Placeholder, "forward", "still raises NotImplementedError"),
}
