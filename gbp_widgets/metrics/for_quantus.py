"""``explain_func``: the engine's maps in the form Quantus asks for, so any Quantus metric
scores our maps. Quantus itself is not imported: it calls us."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from gbp_widgets.engine import (
    GuidedBackprop,
    check_activations,
    check_rule,
    model_device_and_dtype,
)

# What the engine takes besides the model, inputs and target.
ENGINE_ARGUMENTS = ("activations", "output", "batch_size")
# What Quantus adds to every call on its own: it runs on the model's device anyway.
QUANTUS_ADDS = ("device",)


def explain_func(rule: str = "guided", **engine_args) -> Callable[..., np.ndarray]:
    """A function ``(model, inputs, targets, **kwargs) -> numpy array`` for Quantus's
    ``explain_func``: the ``rule`` map (``"guided"``, ``"gradient"`` or ``"deconvnet"``)
    of each item's target class.

    ``inputs``: a ``(N, C, *spatial)`` array or tensor, moved to the model's device and
    dtype; ``targets``: ``(N,)`` class indices. The answer is float32 of the inputs'
    shape. ``engine_args``: ``activations`` (:class:`gbp_widgets.GuidedBackprop`),
    ``output`` and ``batch_size`` (:meth:`GuidedBackprop.explain`). Quantus's own
    ``device`` keyword is accepted and not needed.
    """
    check_rule(rule)
    unknown = sorted(set(engine_args) - set(ENGINE_ARGUMENTS))
    if unknown:
        raise TypeError(f"explain_func takes {', '.join(ENGINE_ARGUMENTS)}; not {unknown}")
    activations = check_activations(engine_args.pop("activations", "relu"))

    def explain(model: nn.Module, inputs, targets, **kwargs) -> np.ndarray:
        extra = sorted(set(kwargs) - set(QUANTUS_ADDS))
        if extra:
            raise TypeError(
                f"the {rule} explain_func takes no {extra}; give engine arguments "
                f"({', '.join(ENGINE_ARGUMENTS)}) to explain_func() itself"
            )
        device, dtype = model_device_and_dtype(model)
        values = torch.as_tensor(np.asarray(inputs), dtype=dtype, device=device)
        classes = torch.as_tensor(np.asarray(targets)).reshape(-1).long()
        explanation = GuidedBackprop(model, activations=activations).explain(
            values, classes, rule=rule, capture_masks=False, **engine_args
        )
        return explanation.attribution.detach().float().cpu().numpy()

    explain.__name__ = explain.__qualname__ = f"gbp_widgets_{rule}"
    return explain
