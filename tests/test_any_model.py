"""Any input shape, several inputs, any output, targets for dense outputs, opaque parts."""

import dataclasses
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gbp_widgets import GuidedBackprop, GuidedBackpropWarning, Neuron, Region
from tests.concurrency import assert_threads_agree
from tests.reference import reference_general

RULES = ("gradient", "deconvnet", "guided")


def assert_close(actual, expected):
    scale = expected.abs().max().item()
    assert scale > 0, "reference map is all zero: the test would prove nothing"
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-6 * scale)


class Signal(nn.Module):
    """A 1-D convolutional classifier of (N, 2, L) signals."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv1d(2, 6, 5, padding=2)
        self.conv2 = nn.Conv1d(6, 6, 3, padding=1)
        self.head = nn.Linear(6, 4)

    def forward(self, x):
        return self.head(F.relu(self.conv2(F.relu(self.conv1(x)))).mean(2))


class Volume(nn.Module):
    """A 3-D convolutional classifier of (N, 1, D, H, W) volumes."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv3d(1, 4, 3, padding=1)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).amax((2, 3, 4)))


class Tabular(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(7, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU6())
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.net(x))


SHAPED = [(Signal, (3, 2, 40)), (Volume, (2, 1, 6, 8, 8)), (Tabular, (5, 7))]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("make, shape", SHAPED, ids=["signal", "volume", "tabular"])
def test_inputs_of_any_rank_match_the_reference(make, shape, rule):
    model = make().eval()
    torch.manual_seed(1)
    x = torch.randn(shape)
    explanation = GuidedBackprop(model).explain(x, target=1, rule=rule)
    assert explanation.attribution.shape == x.shape
    (expected,) = reference_general(model, (x,), lambda out: out[:, 1].sum(), rule)
    assert_close(explanation.attribution, expected)


def test_a_3d_tensor_is_a_batch_unless_the_model_starts_with_a_2d_conv():
    signal = torch.randn(3, 2, 40)
    assert GuidedBackprop(Signal()).explain(signal).attribution.shape == (3, 2, 40)
    image_model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    image_model(torch.zeros(1, 3, 8, 8))
    assert GuidedBackprop(image_model).explain(torch.randn(3, 8, 8)).attribution.shape == (3, 8, 8)


@pytest.mark.parametrize(
    "model, x, message",
    [
        (Signal(), torch.randn(2, 3, 40), r"3 channels.*'conv1' \(Conv1d\) expects 2"),
        (Volume(), torch.randn(2, 2, 4, 4, 4), r"'conv' \(Conv3d\) expects 1"),
        (Tabular(), torch.randn(2, 9), r"'net.0' \(Linear\), which takes 7 features"),
        (Signal(), torch.randn(2, 40), r"'conv1' \(Conv1d\) takes \(N, C, L\)"),
        (Volume(), torch.randn(2, 1, 8, 8), r"\(N, C, D, H, W\)"),
        (Tabular(), torch.randn(7), r"rank >= 2"),
    ],
)
def test_inputs_that_do_not_fit_name_the_layer_read(model, x, message):
    with pytest.raises(ValueError, match=message):
        GuidedBackprop(model).explain(x)


class TwoInputs(nn.Module):
    """An image and a tabular vector, and an unattributed scale passed as an argument."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.dense = nn.Linear(5, 4)
        self.head = nn.Linear(4, 3)

    def forward(self, image, table, scale, *, shift=None):
        features = F.relu(self.conv(image)).mean((2, 3)) * scale
        mixed = F.relu(features + self.dense(table))
        return self.head(mixed + (0 if shift is None else shift))


@pytest.mark.parametrize("rule", RULES)
def test_several_inputs_are_all_attributed_and_extra_arguments_ride_along(rule):
    torch.manual_seed(3)
    image, table = torch.randn(4, 3, 8, 8), torch.randn(4, 5)
    scale, shift = torch.rand(4, 1) + 0.5, torch.randn(4, 4)
    model = TwoInputs().eval()
    explanation = GuidedBackprop(model).explain(
        (image, table), target=2, rule=rule, forward_args=(scale,), forward_kwargs={"shift": shift}
    )
    assert isinstance(explanation.attribution, tuple)
    expected = reference_general(
        model, (image, table), lambda out: out[:, 2].sum(), rule, (scale,), {"shift": shift}
    )
    for actual, wanted in zip(explanation.attribution, expected, strict=True):
        assert_close(actual, wanted)
    chunked = GuidedBackprop(model).explain(
        (image, table),
        target=2,
        rule=rule,
        batch_size=3,
        forward_args=(scale,),
        forward_kwargs={"shift": shift},
    )
    for actual, wanted in zip(chunked.attribution, expected, strict=True):
        assert_close(actual, wanted)


def test_inputs_with_different_batch_sizes_are_refused():
    with pytest.raises(ValueError, match="different batch sizes"):
        GuidedBackprop(TwoInputs()).explain(
            (torch.randn(2, 3, 8, 8), torch.randn(3, 5)), forward_args=(1.0,)
        )


@dataclasses.dataclass
class Scores:
    logits: torch.Tensor
    hidden: torch.Tensor


class ModelOutputLike(OrderedDict):
    """The shape of Hugging Face's ModelOutput: an ordered dict with attributes."""

    def __getattr__(self, key):
        return self[key]


class Returning(nn.Module):
    def __init__(self, wrap) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, 6)
        self.wrap = wrap

    def forward(self, x):
        hidden = F.relu(self.conv(x))
        return self.wrap(self.head(hidden.mean((2, 3))), hidden)


OUTPUTS = {
    "dict with logits": (lambda s, h: {"logits": s, "hidden": h}, None),
    "dataclass with logits": (lambda s, h: Scores(s, h), None),
    "ModelOutput-like": (lambda s, h: ModelOutputLike(logits=s, hidden=h), None),
    "dict with out": (lambda s, h: {"aux": h, "out": s}, None),
    "tuple, index 1": (lambda s, h: (h, s), 1),
    "dict, key": (lambda s, h: {"scores": s}, "scores"),
    "list, callable": (lambda s, h: [h, {"s": s}], lambda out: out[1]["s"]),
}


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_any_output_gives_its_scores(name, images):
    wrap, output = OUTPUTS[name]
    model = Returning(wrap).eval()
    explanation = GuidedBackprop(model).explain(images, target=4, output=output)
    plain = Returning(lambda s, h: s).eval()
    expected = GuidedBackprop(plain).explain(images, target=4)
    torch.testing.assert_close(explanation.attribution, expected.attribution)
    torch.testing.assert_close(explanation.logits, expected.logits)


def test_an_output_with_no_obvious_scores_is_described():
    model = Returning(lambda s, h: {"scores": s, "hidden": h})
    with pytest.raises(TypeError) as caught:
        GuidedBackprop(model).explain(torch.randn(2, 3, 8, 8))
    message = str(caught.value)
    assert "'scores': a torch.float32 tensor of shape (2, 6)" in message
    assert "'hidden': a torch.float32 tensor of shape (2, 4, 8, 8)" in message
    assert "output=" in message
    with pytest.raises(TypeError, match="output='score' names nothing"):
        GuidedBackprop(model).explain(torch.randn(2, 3, 8, 8), output="score")


def test_a_callable_target_sees_the_raw_output_unchecked(images):
    model = Returning(lambda s, h: [{"boxes": h, "scores": s[:, 0]}]).eval()
    explanation = GuidedBackprop(model).explain(images, target=lambda out: out[0]["scores"])
    (expected,) = reference_general(model, (images,), lambda out: out[0]["scores"].sum(), "guided")
    assert_close(explanation.attribution, expected)
    assert explanation.logits[0]["scores"].shape == (2,)


class Segmenter(nn.Module):
    """(N, 3, H, W) -> {"out": (N, 4, H, W)}, like torchvision's segmentation models."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.classify = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return {"out": self.classify(F.relu(self.conv2(F.relu(self.conv1(x)))))}


@pytest.mark.parametrize("rule", RULES)
def test_a_region_target_sums_the_class_over_its_mask(rule, images):
    model = Segmenter().eval()
    mask = torch.zeros(32, 32, dtype=torch.bool)
    mask[4:12, 20:30] = True
    explanation = GuidedBackprop(model).explain(images, target=Region(2, mask), rule=rule)
    (expected,) = reference_general(
        model, (images,), lambda out: out["out"][:, 2][:, mask].sum(), rule
    )
    assert_close(explanation.attribution, expected)
    per_item = torch.stack([mask, ~mask])
    chunked = GuidedBackprop(model).explain(
        images, target=Region(1, per_item), rule=rule, batch_size=1
    )
    (wanted,) = reference_general(
        model, (images,), lambda out: (out["out"][:, 1] * per_item).sum(), rule
    )
    assert_close(chunked.attribution, wanted)


def test_an_int_target_on_a_dense_output_is_the_whole_class(images):
    model = Segmenter().eval()
    explanation = GuidedBackprop(model).explain(images, target=3)
    (expected,) = reference_general(model, (images,), lambda out: out["out"][:, 3].sum(), "guided")
    assert_close(explanation.attribution, expected)
    assert explanation.target.tolist() == [3, 3]


@pytest.mark.parametrize(
    "region, message",
    [
        (Region(7), "out of range"),
        (Region(1, torch.zeros(32, 32, dtype=torch.bool)), "selects no position"),
        (Region(1, torch.ones(16, 16, dtype=torch.bool)), r"positions are \(32, 32\)"),
        (Region(1, torch.ones(32, 32)), "bool"),
    ],
)
def test_bad_regions_are_refused_with_a_hint(region, message, images):
    with pytest.raises((ValueError, TypeError), match=message):
        GuidedBackprop(Segmenter()).explain(images, target=region)


@pytest.mark.parametrize("rule", RULES)
def test_a_neuron_at_a_module_output_and_at_a_1d_position(rule):
    model = Signal().eval()
    torch.manual_seed(2)
    x = torch.randn(2, 2, 40)
    explanation = GuidedBackprop(model).explain(
        x, target=Neuron("conv2", 3, position=(17,)), rule=rule
    )

    class UpToConv2(nn.Module):
        def forward(self, z):
            return model.conv2(F.relu(model.conv1(z)))

    (expected,) = reference_general(UpToConv2(), (x,), lambda out: out[:, 3, 17].sum(), rule)
    assert_close(explanation.attribution, expected)


def test_bad_neuron_positions_are_refused():
    engine = GuidedBackprop(Signal())
    x = torch.randn(1, 2, 40)
    with pytest.raises(ValueError, match=r"unit \(40,\) is outside module 'conv2'"):
        engine.explain(x, target=Neuron("conv2", 0, position=(40,)))
    with pytest.raises(ValueError, match="both y and x"):
        engine.explain(x, target=Neuron("conv2", 0, y=1, x=2))
    with pytest.raises(KeyError, match="no output of module 'conv9'"):
        engine.explain(x, target=Neuron("conv9", 0))


class Scripted(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.block(x).mean((2, 3)))


def test_a_torchscript_submodule_is_refused_with_its_path():
    with pytest.raises(TypeError, match=r"submodule 'block' is a TorchScript module"):
        GuidedBackprop(Scripted())


def _compiled_relu(z):
    return F.relu(z) * 2


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("where", ["function", "submodule", "whole model", "compile()"])
def test_compiled_code_runs_eagerly_and_gets_every_rule(where, images):
    eager = Returning(lambda s, h: s).eval()
    compiled_fn = torch.compile(_compiled_relu)

    class WithFunction(Returning):
        def forward(self, x):
            return self.head(compiled_fn(self.conv(x)).mean((2, 3)))

    if where == "function":
        model = WithFunction(None).eval()
        reference_model = WithFunction(None).eval()
        reference_model.forward = lambda x: reference_model.head(
            _compiled_relu(reference_model.conv(x)).mean((2, 3))
        )
    elif where == "submodule":
        model, reference_model = nn.Sequential(torch.compile(eager)), eager
    elif where == "whole model":
        model, reference_model = torch.compile(eager), eager
    else:
        model = Returning(lambda s, h: s).eval()
        model.compile()
        reference_model = eager
    for rule in RULES:
        explanation = GuidedBackprop(model).explain(images, target=1, rule=rule)
        (expected,) = reference_general(reference_model, (images,), lambda o: o[:, 1].sum(), rule)
        assert_close(explanation.attribution, expected)
        assert explanation.sites[0].backward_mask.any()


class Custom(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        return grad


def test_a_relu_inside_a_custom_autograd_function_is_reported(images):
    model = Returning(lambda s, h: s)
    model.forward = lambda x: model.head(Custom.apply(model.conv(x)).mean((2, 3)))
    with pytest.warns(GuidedBackpropWarning, match=r"relu in autograd.Function"):
        explanation = GuidedBackprop(model).explain(images)
    assert explanation.not_guided[0].kind == "relu in autograd.Function"


def test_threads_explaining_one_train_mode_model_leave_its_statistics_alone():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.LazyLinear(3)
    )
    model(torch.randn(2, 3, 12, 12))
    assert_threads_agree(model.train(), torch.randn(4, 3, 12, 12), 0, threads=4, each=10)
