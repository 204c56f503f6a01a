"""Token ids in the engine: the map at the embedding that reads them, targets in a sequence
output, one score per token, and every bad input refused with the model left as it was."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gbp_widgets import GuidedBackprop, TokenTarget

VOCABULARY, WIDTH = 23, 8


class TinyLM(nn.Module):
    """Token and position embeddings, a GELU MLP, next-token scores ``(N, T, V)``."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens = nn.Embedding(VOCABULARY, WIDTH)
        self.positions = nn.Embedding(16, WIDTH)
        self.up = nn.Linear(WIDTH, 12)
        self.down = nn.Linear(12, VOCABULARY)

    def forward(self, ids, attention_mask=None):
        flat = ids.view(-1, ids.shape[-1])  # a view, as GPT-2 makes one
        h = self.tokens(flat) + self.positions(torch.arange(ids.shape[1]))
        if attention_mask is not None:
            h = h * attention_mask[..., None]
        return self.down(F.relu(self.up(h)))


class TwoReaders(TinyLM):
    def __init__(self) -> None:
        super().__init__()
        self.other = nn.Embedding(VOCABULARY, WIDTH)

    def forward(self, ids, attention_mask=None):
        return self.down(F.relu(self.up(self.tokens(ids) + self.other(ids))))


class Indexing(TinyLM):
    def forward(self, ids, attention_mask=None):
        return self.down(F.relu(self.up(self.tokens.weight[ids])))


def model_and_ids(seed=0):
    torch.manual_seed(seed)
    return TinyLM().eval(), torch.randint(0, VOCABULARY, (3, 7))


def by_hand(model, ids, seed_of):
    """The plain gradient at the token embedding's output, by autograd."""
    embedded = model.tokens(ids).detach().requires_grad_(True)
    h = embedded + model.positions(torch.arange(ids.shape[1]))
    scores = model.down(F.relu(model.up(h)))
    (grad,) = torch.autograd.grad(scores, embedded, seed_of(scores.detach()))
    return grad, embedded.detach()


def test_the_attribution_is_the_gradient_at_the_embedding_and_the_default_target_the_next_token():
    model, ids = model_and_ids()
    explanation = GuidedBackprop(model).explain(ids, rule="gradient")

    def next_token(scores):
        seed = torch.zeros_like(scores)
        for item in range(ids.shape[0]):
            seed[item, -1, scores[item, -1].argmax()] = 1.0
        return seed

    expected, embedded = by_hand(model, ids, next_token)
    assert explanation.attribution.shape == (3, 7, WIDTH)
    assert explanation.attribution.dtype == torch.float32
    torch.testing.assert_close(explanation.attribution, expected)
    torch.testing.assert_close(explanation.embedded, embedded)
    assert torch.equal(explanation.token_ids, ids)
    assert [site.shape for site in explanation.sites] == [(3, 7, 12)]
    norms = torch.sqrt((expected**2).sum(dim=-1))
    torch.testing.assert_close(explanation.token_scores(), norms)
    torch.testing.assert_close(explanation.token_scores("sum"), expected.sum(dim=-1))
    torch.testing.assert_close(explanation.token_scores("dot"), (expected * embedded).sum(dim=-1))
    with pytest.raises(ValueError, match="use one of norm, sum, dot"):
        explanation.token_scores("max")


def test_token_targets_pick_positions_spans_masks_and_entries():
    model, ids = model_and_ids(1)
    engine = GuidedBackprop(model)
    one = engine.explain(ids, target=TokenTarget(2, token=5), rule="gradient")

    def at(position, token):
        def seed_of(scores):
            seed = torch.zeros_like(scores)
            seed[:, position, token] = 1.0
            return seed

        return seed_of

    torch.testing.assert_close(one.attribution, by_hand(model, ids, at(2, 5))[0])
    assert one.target.token[:, 2].tolist() == [5, 5, 5]
    assert one.target.position.sum().item() == 3
    span = engine.explain(ids, target=TokenTarget([1, 4], token=5), rule="gradient")
    summed = by_hand(model, ids, at(1, 5))[0] + by_hand(model, ids, at(4, 5))[0]
    torch.testing.assert_close(span.attribution, summed)
    marked = engine.explain(ids, target=TokenTarget(torch.arange(7) == 4, 5), rule="gradient")
    torch.testing.assert_close(marked.attribution, by_hand(model, ids, at(4, 5))[0])
    last = engine.explain(ids, target=TokenTarget(-1, 5), rule="gradient")
    torch.testing.assert_close(last.attribution, by_hand(model, ids, at(6, 5))[0])


def test_the_default_position_is_the_last_one_the_attention_mask_keeps_in_chunks_too():
    model, ids = model_and_ids(2)
    mask = torch.ones_like(ids)
    mask[0, 4:] = 0
    mask[2, 6:] = 0
    engine = GuidedBackprop(model)
    whole = engine.explain(ids, forward_kwargs={"attention_mask": mask})
    chunked = engine.explain(ids, forward_kwargs={"attention_mask": mask}, batch_size=2)
    assert [row.nonzero().item() for row in whole.target.position] == [3, 6, 5]
    assert torch.equal(whole.target.position, chunked.target.position)
    assert torch.equal(whole.target.token, chunked.target.token)
    torch.testing.assert_close(whole.attribution, chunked.attribution)


def test_the_embedding_to_attribute_can_be_named_when_two_read_the_ids():
    torch.manual_seed(0)
    model = TwoReaders().eval()
    ids = torch.randint(0, VOCABULARY, (2, 5))
    with pytest.raises(ValueError, match=r"read by 2 embedding look-ups \(tokens, other\)"):
        GuidedBackprop(model).explain(ids)
    chosen = GuidedBackprop(model, embedding=model.other).explain(ids)
    torch.testing.assert_close(chosen.embedded, model.other(ids).detach())
    with pytest.raises(ValueError, match="not a module of this model"):
        GuidedBackprop(model, embedding=nn.Embedding(3, 2))
    with pytest.raises(TypeError, match="must be the nn.Embedding"):
        GuidedBackprop(model, embedding=model.up)


BAD = [
    ("float ids", lambda ids: (ids.float(), {}), None, TypeError, "token ids must be an integer"),
    (
        "outside the vocabulary",
        lambda ids: (ids + VOCABULARY, {}),
        None,
        ValueError,
        "outside the vocabulary of tokens, which has 23 entries",
    ),
    ("negative", lambda ids: (ids - 50, {}), None, ValueError, "negative token id"),
    ("no tokens", lambda ids: (ids[:, :0], {}), None, ValueError, "no tokens"),
    ("one dimension", lambda ids: (ids[0], {}), None, ValueError, r"as \(N, T\)"),
    (
        "position past the end",
        lambda ids: (ids, {}),
        TokenTarget(7),
        ValueError,
        "position 7 is past the sequence, which has 7 tokens",
    ),
    (
        "token outside",
        lambda ids: (ids, {}),
        TokenTarget(1, token=99),
        ValueError,
        "token 99 is outside the vocabulary",
    ),
    (
        "mask of the wrong shape",
        lambda ids: (ids, {"attention_mask": torch.ones(3, 6)}),
        None,
        ValueError,
        r"attention_mask has shape \(3, 6\), but the token ids are \(3, 7\)",
    ),
    ("a class for a sequence", lambda ids: (ids, {}), TokenTarget(2), None, None),
]


@pytest.mark.parametrize(
    "make, target, error, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_token_input_is_refused_and_the_model_left_as_it_was(make, target, error, message):
    model, ids = model_and_ids()
    model.train()
    before = copy.deepcopy(model.state_dict())
    inputs, kwargs = make(ids)
    if error is None:
        GuidedBackprop(model).explain(inputs, target=target, forward_kwargs=kwargs)
    else:
        with pytest.raises(error, match=message):
            GuidedBackprop(model).explain(inputs, target=target, forward_kwargs=kwargs)
    assert model.training
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_a_model_whose_ids_no_embedding_reads_is_told_what_to_do():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="no nn.Embedding or F.embedding call read them"):
        GuidedBackprop(Indexing().eval()).explain(torch.randint(0, VOCABULARY, (1, 4)))


def test_a_classifier_over_token_ids_takes_classes_and_refuses_a_token_target():
    torch.manual_seed(0)
    classifier = nn.Sequential(
        nn.Embedding(VOCABULARY, WIDTH),
        nn.Flatten(),
        nn.Linear(4 * WIDTH, 6),
        nn.ReLU(),
        nn.Linear(6, 3),
    )
    ids = torch.randint(0, VOCABULARY, (2, 4))
    explanation = GuidedBackprop(classifier).explain(ids, target=1)
    assert explanation.target.tolist() == [1, 1]
    with pytest.raises(ValueError, match="needs a sequence output"):
        GuidedBackprop(classifier).explain(ids, target=TokenTarget(0))
