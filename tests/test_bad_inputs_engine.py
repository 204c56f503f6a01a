"""Bad input to the engine, as a table: each row is answered in words, and the model and
torch's global state are exactly as before (``tests/fingerprint.py``)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gbp_widgets import GuidedBackprop, GuidedBackpropWarning
from tests.fingerprint import assert_same, snapshot


class Net(nn.Module):
    """conv -> ReLU -> mean -> linear, with a switch for what ``forward`` returns."""

    def __init__(self, returns: str = "logits") -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 5)
        self.head = nn.Linear(4, 3)
        self.returns = returns

    def forward(self, x):
        logits = self.head(F.relu(self.conv(x)).mean((2, 3)))
        if self.returns == "argmax":
            return logits.argmax(1)
        if self.returns == "bool":
            return logits > 0
        if self.returns == "detached":
            return logits.detach()
        if self.returns == "dict":
            return {"species": logits, "age": logits.sum(1)}
        return logits


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.image = nn.Conv2d(3, 4, 3, padding=1)
        self.record = nn.Linear(5, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, picture, record):
        return self.head(F.relu(self.image(picture)).mean((2, 3)) + F.relu(self.record(record)))


IMAGES = torch.randn(2, 3, 8, 8)

# id: (model, keyword arguments of explain, exception type, message fragment)
REFUSED = {
    "inputs on the meta device": (
        Net(),
        {"inputs": torch.empty(2, 3, 8, 8, device="meta")},
        ValueError,
        "inputs is on the meta device",
    ),
    "integer scores": (Net("argmax"), {"inputs": IMAGES}, TypeError, "holds torch.int64 values"),
    "bool scores": (Net("bool"), {"inputs": IMAGES}, TypeError, "holds torch.bool values"),
    "detached scores": (Net("detached"), {"inputs": IMAGES}, TypeError, "does not require grad"),
    "a dict without logits": (
        Net("dict"),
        {"inputs": IMAGES},
        TypeError,
        "a key (output='species') or a function (output=lambda out: out['species'])",
    ),
    "a second input of the wrong size": (
        TwoInputs(),
        {"inputs": (IMAGES, torch.randn(2, 6))},
        ValueError,
        "'record' (Linear), which takes 5 features",
    ),
    "an input smaller than the first kernel": (
        Net(),
        {"inputs": torch.randn(2, 3, 3, 3)},
        ValueError,
        "smaller than the kernel of the model's layer 'conv' (Conv2d, kernel (5, 5))",
    ),
    "forward_kwargs given as a list": (
        Net(),
        {"inputs": IMAGES, "forward_kwargs": [1, 2]},
        TypeError,
        "forward_kwargs must be a dict",
    ),
    "forward_args given as a number": (
        Net(),
        {"inputs": IMAGES, "forward_args": 3},
        TypeError,
        "forward_args must be a tuple",
    ),
    "a target function returning integers": (
        Net(),
        {"inputs": IMAGES, "target": lambda out: out.argmax(1)},
        TypeError,
        "the target function's scores holds torch.int64",
    ),
    "a target function returning detached scores": (
        Net(),
        {"inputs": IMAGES, "target": lambda out: out[:, 0].detach()},
        TypeError,
        "the target function's scores does not depend on the inputs",
    ),
    "a float class index": (Net(), {"inputs": IMAGES, "target": 1.0}, TypeError, "per-item"),
    "a class name": (Net(), {"inputs": IMAGES, "target": "tabby"}, TypeError, "classes.index"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_input_is_refused_in_words_and_changes_nothing(case):
    model, arguments, error, fragment = REFUSED[case]
    before = snapshot(model)
    with pytest.raises(error) as caught:
        GuidedBackprop(model).explain(**arguments)
    assert fragment in str(caught.value)
    assert_same(before, snapshot(model))


def test_a_model_on_the_meta_device_is_refused_in_words():
    model = Net().to("meta")
    with pytest.raises(ValueError, match="parameters are on the meta device.*to_empty"):
        GuidedBackprop(model).explain(IMAGES)


@pytest.mark.parametrize(
    "index",
    [np.int64(2), torch.tensor(2), np.array(2), torch.tensor([0.1, 0.3, 0.9]).argmax()],
    ids=["numpy int", "0-d tensor", "0-d array", "argmax"],
)
def test_a_scalar_class_index_of_any_kind_means_that_class(index):
    engine = GuidedBackprop(Net())
    expected = engine.explain(IMAGES, target=2)
    explained = engine.explain(IMAGES, target=index)
    assert explained.target.tolist() == [2, 2]
    assert torch.equal(explained.attribution, expected.attribution)


class Overflows(Net):
    """Item 1's scores overflow to infinity."""

    def forward(self, x):
        logits = super().forward(x)
        return logits * torch.tensor([[1.0], [float("inf")]])


def test_nan_or_infinite_scores_are_warned_about_by_item():
    with pytest.warns(GuidedBackpropWarning, match=r"scores for item\(s\) 1 are NaN or infinite"):
        explanation = GuidedBackprop(Overflows()).explain(IMAGES, target=0)
    assert torch.isfinite(explanation.attribution[0]).all()


@pytest.mark.parametrize("same", [False, True], ids=["another model", "the same model"])
def test_explain_inside_another_explain_reports_nothing_false_and_both_are_right(same):
    from tests.reference import reference_attribution

    outer_model = Net()
    inner_model = outer_model if same else Net()
    if not same:
        nn.init.normal_(inner_model.head.weight)
    inner = {}

    def explain_inside(module, args, output):
        if "explanation" not in inner:
            inner["explanation"] = None  # the inner pass runs this hook too
            inner["explanation"] = GuidedBackprop(inner_model).explain(IMAGES, target=1)

    handle = outer_model.conv.register_forward_hook(explain_inside)
    try:
        outer = GuidedBackprop(outer_model).explain(IMAGES, target=2)
    finally:
        handle.remove()
    for explanation, model, target in (
        (outer, outer_model, 2),
        (inner["explanation"], inner_model, 1),
    ):
        assert explanation.not_guided == ()
        assert [site.name for site in explanation.sites] == ["Net#1"]
        expected = reference_attribution(model, IMAGES, [target, target], "guided")
        torch.testing.assert_close(explanation.attribution, expected)
