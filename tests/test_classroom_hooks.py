"""The hook assignment's checker: the classic recipe is credited where it is right and told,
by name, which calls it misses; the fixed version passes; the model is left as it was."""

import torch
import torchvision
from torch import nn

from gbp_widgets.classroom import (
    calls_missed_by_relu_hooks,
    check_hook_guided_backprop,
    check_missed_calls,
    hook_mismatch,
)
from tests.student_hooks import (
    FIXED,
    RELU_ONLY,
    WITH_RELU6,
    clamp_grad_output,
    forgets_to_return,
    full_hooks_in_place,
    hooked,
    legacy_recipe,
)


def failed_items(feedback):
    return {o.item.key for o in feedback.outcomes if o.status == "failed"}


def test_the_fixed_hooks_pass():
    feedback = check_hook_guided_backprop(FIXED)
    assert feedback.passed, str(feedback)


def test_the_classic_recipe_is_told_which_calls_it_misses():
    for recipe in (RELU_ONLY, legacy_recipe):
        feedback = check_hook_guided_backprop(recipe)
        assert failed_items(feedback) == {"relu6", "functional"}, str(feedback)
        assert feedback.score == 4 / 8
        text = str(feedback)
        assert "These ReLU6 modules had no hook when the model ran: features.2, features.4" in text
        assert "nn.ReLU6 is not a subclass of nn.ReLU" in text
        assert "no module hook can catch: FunctionalNet#1" in text


def test_hooking_relu6_leaves_only_the_functional_call():
    feedback = check_hook_guided_backprop(WITH_RELU6)
    assert failed_items(feedback) == {"functional"}
    assert "ReLU6 modules had no hook" not in str(feedback)


def test_clamping_grad_output_is_deconvnet():
    feedback = check_hook_guided_backprop(hooked(nn.ReLU, hook=clamp_grad_output))
    assert "your map is DeconvNet's" in feedback.outcome("relu_modules").message


def test_a_hook_that_returns_nothing_changes_nothing():
    feedback = check_hook_guided_backprop(hooked(nn.ReLU, hook=forgets_to_return))
    assert "returning a new grad_input" in feedback.outcome("relu_modules").message


def test_full_hooks_on_in_place_relus_get_the_fix_and_leftovers_are_named_once():
    feedback = check_hook_guided_backprop(full_hooks_in_place)
    text = str(feedback)
    assert "set module.inplace = False while your hooks are on" in text
    assert text.count("raised RuntimeError") == 1 and "the same error as above" in text
    assert text.count("hooks stay on the model") == 1


def test_leaving_hooks_and_flags_behind_costs_the_last_point():
    sloppy = hooked((nn.ReLU, nn.ReLU6), patch_relu=True, remove=False, restore_inplace=False)
    feedback = check_hook_guided_backprop(sloppy)
    assert failed_items(feedback) == {"leaves_model"}
    message = feedback.outcome("leaves_model").message
    assert "remove each handle" in message and "inplace was changed" in message


def test_real_densenet_and_mobilenet():
    torch.manual_seed(0)
    images = torch.randn(1, 3, 64, 64)
    densenet = torchvision.models.densenet121(num_classes=10).eval()
    mobilenet = torchvision.models.mobilenet_v2(num_classes=10).eval()
    assert "no module hook can catch: DenseNet#1" in hook_mismatch(RELU_ONLY, densenet, images, 3)
    assert "ReLU6 modules had no hook" in hook_mismatch(RELU_ONLY, mobilenet, images, 3)
    assert hook_mismatch(FIXED, densenet, images, 3) == ""
    assert hook_mismatch(FIXED, mobilenet, images, 3) == ""


def test_the_checker_leaves_the_global_state_alone():
    state = torch.get_rng_state()
    relu = torch.nn.functional.relu
    check_hook_guided_backprop(FIXED)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.nn.functional.relu is relu
    assert not nn.modules.module._global_forward_hooks


def test_only_some_items_are_checked_when_asked():
    feedback = check_hook_guided_backprop(RELU_ONLY, only=("relu_modules", "leaves_model"))
    assert feedback.passed and [o.item.key for o in feedback.outcomes] == [
        "relu_modules",
        "leaves_model",
    ]


def test_the_missed_calls_answer():
    torch.manual_seed(0)
    images = torch.randn(1, 3, 64, 64)
    densenet = torchvision.models.densenet121(num_classes=10).eval()
    mobilenet = torchvision.models.mobilenet_v2(num_classes=10).eval()
    assert calls_missed_by_relu_hooks(densenet, images, 3) == ["DenseNet#1"]
    relu6_calls = sum(isinstance(m, nn.ReLU6) for m in mobilenet.modules())
    assert len(calls_missed_by_relu_hooks(mobilenet, images, 3)) == relu6_calls == 35

    def check(answer, model):
        return check_missed_calls(answer, model, images, 3, "calls missed")

    assert check(["DenseNet#1"], densenet).passed
    assert check(lambda: 35, mobilenet).passed
    wrong = check(["features.norm5#1"], densenet)
    assert "features.norm5#1 is not a call that hooks on nn.ReLU miss" in str(wrong)
    assert "lacks 1 missed call" in str(wrong) and "DenseNet#1" not in str(wrong)
    assert "not 17" in str(check(17, mobilenet)) and "35" not in str(check(17, mobilenet))

    def unanswered():
        raise NotImplementedError

    assert "still raises NotImplementedError" in str(check(unanswered, densenet))


def blank(model, images, target):
    raise NotImplementedError()


def test_a_blank_submission_earns_nothing():
    for only in (None, ("relu_modules", "leaves_model")):
        feedback = check_hook_guided_backprop(blank, only=only)
        assert feedback.score == 0, str(feedback)
        assert feedback.outcome("leaves_model").status == "not checked"
        assert "has to run to the end first" in str(feedback)


def raises_after_hooking(model, images, target):
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.register_full_backward_hook(lambda *args: None)
    raise RuntimeError("half done")


def test_a_function_that_raises_with_hooks_left_on_fails_the_last_item():
    feedback = check_hook_guided_backprop(raises_after_hooking)
    assert feedback.outcome("leaves_model").status == "failed"
    assert "hooks stay on the model" in str(feedback)
