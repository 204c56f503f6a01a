"""A fingerprint of a model and of torch's global state, to show a call left them as they were."""

import torch
from torch import nn
from torch.overrides import _get_current_function_mode_stack

HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks_with_kwargs",
    "_state_dict_hooks",
    "_load_state_dict_pre_hooks",
)


def snapshot(model: nn.Module) -> dict:
    return {
        "hooks": {
            (path, attr): list(getattr(module, attr, {}).keys())
            for path, module in model.named_modules()
            for attr in HOOK_DICTS
        },
        "tensors": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "training": {path: m.training for path, m in model.named_modules()},
        # A forward set on a module for one pass must be gone after it.
        "attributes": {path: sorted(vars(m)) for path, m in model.named_modules()},
        "grads": [p.grad for p in model.parameters()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grad_mode": torch.is_grad_enabled(),
        "modes": list(_get_current_function_mode_stack()),
        "global_hooks": len(torch.nn.modules.module._global_forward_hooks),
    }


def assert_same(before: dict, after: dict) -> None:
    assert after["hooks"] == before["hooks"]
    assert after["tensors"].keys() == before["tensors"].keys()
    for key, value in before["tensors"].items():
        assert torch.equal(after["tensors"][key], value), key
    assert after["training"] == before["training"]
    assert after["attributes"] == before["attributes"]
    assert all(g is None for g in after["grads"])
    assert after["requires_grad"] == before["requires_grad"]
    assert after["grad_mode"] == before["grad_mode"]
    assert after["modes"] == before["modes"]
    assert after["global_hooks"] == before["global_hooks"]
