"""What runs in plain PyTorch runs under the engine, and the rules reach every rectifier.

Three ways it once did not: a rectifier called in place whose output is then edited in
place again crashed the backward pass; inputs were refused by a guess from the first
layer *registered* although the model ran; a ReLU inside a fused recurrent kernel
(``nn.RNN(nonlinearity="relu")``) got the plain gradient without a word, and LSTM / GRU
nonlinearities went unreported. Each model is written twice where needed: as a user
wrote it for the engine, and with ``F.relu`` / ``F.relu6`` out of place for the formula
reference (``tests/reference.py``).
"""

import warnings

import pytest
import timm
import torch
import torch.nn.functional as F
from timm.layers.activations import HardSigmoid
from torch import nn

from gbp_widgets import GuidedBackprop, GuidedBackpropWarning
from tests.reference import reference_general, reference_masks

RULES = ("gradient", "deconvnet", "guided")


def assert_close(actual, expected):
    scale = expected.abs().max().item()
    assert scale > 0, "reference map is all zero: the test would prove nothing"
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5 * scale)


def plain_gradient(model, x, score_of):
    leaf = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(score_of(model(leaf.clone())), leaf)
    return grad


def assert_matches_reference(model, twin, x, target):
    """All three rules' maps and every site's masks equal the reference on ``twin``."""

    def score_of(out):
        return out[:, target].sum()

    for rule in RULES:
        explanation = GuidedBackprop(model).explain(x, target=target, rule=rule)
        (expected,) = reference_general(twin, (x,), score_of, rule)
        assert_close(explanation.attribution, expected)
        masks = reference_masks(twin, (x,), score_of, rule)
        assert len(explanation.sites) == len(masks)
        for site, (forward, backward) in zip(explanation.sites, masks, strict=True):
            assert torch.equal(site.forward_mask, forward), site.name
            assert torch.equal(site.backward_mask, backward), site.name


# -- a rectifier in place, then its output edited in place -------------------------------


def _two_slices(h):
    h[:, :2].clamp_(min=0)
    h[:, 2:].clamp_(min=0)
    return h


IN_PLACE_THEN_EDITED = {
    # (as written for the engine, the same out of place for the reference)
    "clamp_(min=0) then mul_": (
        lambda h: h.clamp_(min=0).mul_(0.5),
        lambda h: F.relu(h) * 0.5,
    ),
    "relu6(inplace=True) then +=": (
        lambda h: F.relu6(h, inplace=True).add_(1.0),
        lambda h: F.relu6(h) + 1.0,
    ),
    "timm's hard_sigmoid in place": (
        lambda h: h.add_(3.0).clamp_(0.0, 6.0).div_(6.0),
        lambda h: F.relu6(h + 3.0) / 6.0,
    ),
    "hardtanh_(0, 2) then sub_": (
        lambda h: F.hardtanh_(h, 0.0, 2.0).sub_(1.0),
        lambda h: F.hardtanh(h, 0.0, 2.0) - 1.0,
    ),
    "threshold_(0, 0) then mul_": (
        lambda h: F.threshold_(h, 0.0, 0.0).mul_(2.0),
        lambda h: F.relu(h) * 2.0,
    ),
    "clamp_ on two slices of one tensor": (
        _two_slices,
        lambda h: torch.cat([F.relu(h[:, :2]), F.relu(h[:, 2:])], 1),
    ),
}


class Activated(nn.Module):
    """conv -> activation written as given -> conv -> linear."""

    def __init__(self, act) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 5, 3, padding=1)
        self.conv2 = nn.Conv2d(5, 4, 3, padding=1)
        self.head = nn.Linear(4 * 6 * 6, 3)
        self.act = act

    def forward(self, x):
        return self.head(F.relu(self.conv2(self.act(self.conv1(x)))).flatten(1))


@pytest.mark.parametrize("pattern", sorted(IN_PLACE_THEN_EDITED))
def test_an_in_place_rectifier_edited_again_in_place_runs_and_matches(pattern):
    written, twin_act = IN_PLACE_THEN_EDITED[pattern]
    model, twin = Activated(written), Activated(twin_act)
    twin.load_state_dict(model.state_dict())
    torch.manual_seed(1)
    x = torch.randn(2, 3, 6, 6)
    assert_matches_reference(model, twin, x, 1)
    gradient = GuidedBackprop(model).explain(x, target=1, rule="gradient").attribution
    assert_close(gradient, plain_gradient(model, x, lambda out: out[:, 1].sum()))


def test_relu_edited_in_place_fails_under_the_engine_as_it_fails_in_plain_torch():
    model = Activated(lambda h: h.relu_().mul_(0.5))
    x = torch.randn(1, 3, 6, 6)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        plain_gradient(model, x, lambda out: out.sum())
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        GuidedBackprop(model).explain(x)


def _with_gates(model: nn.Module, inplace: bool) -> nn.Module:
    for module in model.modules():
        if hasattr(module, "gate") and isinstance(module.gate, nn.Hardsigmoid):
            module.gate = HardSigmoid(inplace=inplace)
    return model


def test_timm_mobilenetv3_with_python_hard_sigmoid_in_place_matches():
    def make(inplace):
        torch.manual_seed(0)
        net = timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=5)
        return _with_gates(net, inplace).eval()

    model, twin = make(True), make(False)
    assert any(isinstance(m, HardSigmoid) and m.inplace for m in model.modules())
    torch.manual_seed(1)
    x = torch.randn(1, 3, 64, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuidedBackpropWarning)  # its hard-swish is uncovered
        assert_matches_reference(model, twin, x, 3)


# -- inputs the first registered layer would not take, though the model runs -------------


class SpaceToDepth(nn.Module):
    """Folds 2 x 2 blocks into channels before the first convolution, as TResNet does."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(12, 6, 3, padding=1)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(F.relu(self.conv(F.pixel_unshuffle(x, 2))).mean((2, 3)))


class Patches(nn.Module):
    """Cuts an ``(N, L)`` series into patches of 8 before its first ``Linear``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Linear(8, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        patches = x.unfold(1, 8, 8)
        return self.head(F.relu(self.embed(patches)).mean(1))


class RecurrentFirst(nn.Module):
    """A GRU over ``(N, T, 5)`` whose head is the first ``Linear`` registered."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.head = nn.Linear(6, 3)
        self.gru = nn.GRU(5, 6, batch_first=True)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(F.relu(out[:, -1]))


RUNS_ALTHOUGH = {
    "space-to-depth stem": (SpaceToDepth, (2, 3, 8, 8)),
    "patches before the first Linear": (Patches, (2, 32)),
    "GRU before the first registered Linear": (RecurrentFirst, (2, 7, 5)),
}


@pytest.mark.parametrize("name", sorted(RUNS_ALTHOUGH))
def test_a_model_that_runs_is_explained_whatever_its_first_registered_layer(name):
    make, shape = RUNS_ALTHOUGH[name]
    model = make().eval()
    torch.manual_seed(1)
    x = torch.randn(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuidedBackpropWarning)  # the GRU's are reported
        for rule in RULES:
            explanation = GuidedBackprop(model).explain(x, target=2, rule=rule)
            (expected,) = reference_general(model, (x,), lambda out: out[:, 2].sum(), rule)
            assert_close(explanation.attribution, expected)


def test_timm_tresnet_with_its_space_to_depth_stem_matches_the_reference():
    torch.manual_seed(0)
    model = timm.create_model("tresnet_m", pretrained=False, num_classes=4).eval()
    x = torch.randn(1, 3, 64, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuidedBackpropWarning)  # its leaky ReLUs are reported
        for rule in RULES:
            explanation = GuidedBackprop(model).explain(x, target=1, rule=rule)
            (expected,) = reference_general(model, (x,), lambda out: out[:, 1].sum(), rule)
            assert_close(explanation.attribution, expected)


def test_inputs_a_later_layer_cannot_take_get_torchs_own_error_not_a_false_hint():
    # The convolution receives 4 channels folded from 1, not the input as given: a hint
    # about converting the input's channels would name the wrong cause.
    with pytest.raises(RuntimeError, match="channels") as caught:
        GuidedBackprop(SpaceToDepth()).explain(torch.randn(2, 1, 8, 8))
    assert "convert the inputs" not in str(caught.value)


# -- recurrent layers -------------------------------------------------------------------


class Unrolled(nn.Module):
    """``rnn``'s own weights applied step by step with ``F.relu``: the reference's twin."""

    def __init__(self, rnn: nn.RNN) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        rnn = self.rnn
        sequence = x.transpose(0, 1) if rnn.batch_first else x
        for layer in range(rnn.num_layers):
            directions = []
            for reverse in range(2 if rnn.bidirectional else 1):
                suffix = f"_l{layer}" + ("_reverse" if reverse else "")
                weights = [getattr(rnn, f"{name}{suffix}") for name in ("weight_ih", "bias_ih")]
                recurrent = [getattr(rnn, f"{name}{suffix}") for name in ("weight_hh", "bias_hh")]
                h = sequence.new_zeros(sequence.shape[1], rnn.hidden_size)
                states = [h] * sequence.shape[0]
                steps = range(sequence.shape[0])
                for t in reversed(steps) if reverse else steps:
                    h = F.relu(F.linear(sequence[t], *weights) + F.linear(h, *recurrent))
                    states[t] = h
                directions.append(torch.stack(states))
            sequence = torch.cat(directions, -1)
        return (sequence.transpose(0, 1) if rnn.batch_first else sequence), None


class SequenceClassifier(nn.Module):
    def __init__(self, recurrent: nn.Module, features: int) -> None:
        super().__init__()
        self.recurrent = recurrent
        torch.manual_seed(0)
        self.head = nn.Linear(features, 3)

    def forward(self, x):
        out, _ = self.recurrent(x)
        return self.head(F.relu(out[:, -1]))


def test_a_relu_rnn_gets_the_rules_at_every_step_layer_and_direction():
    torch.manual_seed(0)
    rnn = nn.RNN(4, 6, num_layers=2, nonlinearity="relu", batch_first=True, bidirectional=True)
    model = SequenceClassifier(rnn, 12).eval()
    twin = SequenceClassifier(Unrolled(rnn), 12).eval()
    torch.manual_seed(1)
    x = torch.randn(3, 5, 4)
    torch.testing.assert_close(model(x), twin(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error", GuidedBackpropWarning)  # nothing left uncovered
        assert_matches_reference(model, twin, x, 0)
    sites = GuidedBackprop(model).explain(x).sites
    # 5 steps x 2 layers x 2 directions, each named after the RNN, then the head's ReLU.
    assert [s.name for s in sites[:20]] == [f"recurrent#{k}" for k in range(1, 21)]
    assert len(sites) == 21


def test_a_relu_rnn_on_packed_sequences_keeps_the_plain_gradient():
    torch.manual_seed(0)
    rnn = nn.RNN(4, 6, num_layers=2, nonlinearity="relu", bidirectional=True)
    lengths = torch.tensor([5, 3, 1])

    class Packed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn, self.head = rnn, nn.Linear(12, 2)

        def forward(self, x):
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True)
            out, h_n = self.rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
            return self.head(out.sum(1) + h_n[-2:].transpose(0, 1).flatten(1))

    model = Packed().eval()
    x = torch.randn(3, 5, 4)
    explanation = GuidedBackprop(model).explain(x, target=1, rule="gradient")
    assert_close(explanation.attribution, plain_gradient(model, x, lambda out: out[:, 1].sum()))
    torch.testing.assert_close(explanation.logits, model(x).detach())
    # Steps of ended sequences are not computed: 5 + 3 + 1 rows, 5 steps, per layer and side.
    assert len(explanation.sites) == 5 * 2 * 2


def test_an_rnn_cell_loop_gets_the_rules():
    torch.manual_seed(0)
    cell = nn.RNNCell(4, 5, nonlinearity="relu")

    class Loop(nn.Module):
        def __init__(self, step) -> None:
            super().__init__()
            self.step, self.head = step, nn.Linear(5, 2)

        def forward(self, x):
            h = x.new_zeros(x.shape[0], 5)
            for t in range(x.shape[1]):
                h = self.step(x[:, t], h)
            return self.head(h)

    def step(x, h):
        return F.relu(
            F.linear(x, cell.weight_ih, cell.bias_ih) + F.linear(h, cell.weight_hh, cell.bias_hh)
        )

    model, twin = Loop(cell).eval(), Loop(step)
    twin.head = model.head
    x = torch.randn(2, 6, 4)
    assert_matches_reference(model, twin, x, 1)


@pytest.mark.parametrize(
    "recurrent, words",
    [
        (nn.LSTM(4, 6, batch_first=True), "sigmoid and tanh in a fused LSTM"),
        (nn.GRU(4, 6, batch_first=True), "sigmoid and tanh in a fused GRU"),
        (nn.RNN(4, 6, batch_first=True), "tanh in a fused RNN"),
    ],
    ids=["lstm", "gru", "tanh-rnn"],
)
def test_fused_lstm_gru_and_tanh_rnn_are_reported_and_the_rules_hold_elsewhere(recurrent, words):
    model = SequenceClassifier(recurrent, 6).eval()
    x = torch.randn(2, 5, 4)
    with pytest.warns(GuidedBackpropWarning, match=words):
        explanation = GuidedBackprop(model).explain(x, target=2)
    assert [kind for _, kind in explanation.not_guided] == [words]
    assert explanation.not_guided[0].name == "recurrent#1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuidedBackpropWarning)
        assert_matches_reference(model, model, x, 2)
