"""Hugging Face models built from configs (random weights, no download) through their own
``forward`` with ``input_ids`` and ``attention_mask``: the engine's map at the embedding
equals an independent reference, the gradient with respect to ``inputs_embeds`` with the
reference rules applied by autograd at every gated call (``tests/reference.py``), with a
target chosen as the engine documents it and computed here from the mask by hand."""

import contextlib
import warnings

import pytest
import torch

from gbp_widgets import GuidedBackprop, GuidedBackpropWarning, TokenTarget
from tests.reference import formula, gated, patched_gates, patched_rectifiers

transformers = pytest.importorskip("transformers")

VOCABULARY = 61
SMALL = dict(vocab_size=VOCABULARY, max_position_embeddings=32)


def bert():
    config = transformers.BertConfig(
        num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=48, **SMALL
    )
    return transformers.BertForSequenceClassification(config)


def distilbert():
    config = transformers.DistilBertConfig(
        n_layers=2, dim=32, n_heads=2, hidden_dim=48, num_labels=3, **SMALL
    )
    return transformers.DistilBertForSequenceClassification(config)


def gpt2():
    config = transformers.GPT2Config(
        n_layer=2,
        n_embd=32,
        n_head=2,
        vocab_size=VOCABULARY,
        n_positions=32,
        bos_token_id=0,
        eos_token_id=0,
    )
    return transformers.GPT2LMHeadModel(config)


def llama():
    config = transformers.LlamaConfig(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=48,
        bos_token_id=0,
        eos_token_id=0,
        **SMALL,
    )
    return transformers.LlamaForCausalLM(config)


# name -> (model, gated kind of its MLP, whether its output is next-token scores, what
# stays reported: BERT's pooler is a tanh, which no rule covers)
MODELS = {
    "bert": (bert, "gelu", False, ["tanh"]),
    "distilbert": (distilbert, "gelu", False, []),
    "gpt2": (gpt2, "gelu_tanh", True, []),
    "llama": (llama, "silu", True, []),
}


@contextlib.contextmanager
def library_gates():
    """Hugging Face's activation modules as the reference's gated calls: GPT-2's
    ``NewGELUActivation`` (the tanh GELU written out) and ``GELUActivation``, which keeps
    ``F.gelu`` from when it was made, out of :func:`patched_gates`' reach."""
    activations = transformers.activations
    kinds = {activations.NewGELUActivation: "gelu_tanh", activations.GELUActivation: "gelu"}
    originals = {cls: cls.forward for cls in kinds}

    def through_gate(cls):
        return lambda self, x: gated(x, kinds[cls], lambda h: originals[cls](self, h))

    try:
        for cls in kinds:
            cls.forward = through_gate(cls)
        yield
    finally:
        for cls, original in originals.items():
            cls.forward = original


def reference(model, ids, mask, rule, language):
    """The gradient at ``inputs_embeds`` under ``rule``: of the predicted class, or of the
    predicted next token after the last position the mask keeps."""
    embedded = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    with patched_rectifiers(formula(rule)), patched_gates(), library_gates():
        logits = model(inputs_embeds=embedded, attention_mask=mask).logits
    seed = torch.zeros_like(logits)
    for item in range(ids.shape[0]):
        if language:
            last = max(p for p in range(ids.shape[1]) if mask[item, p])
            seed[item, last, logits[item, last].argmax()] = 1.0
        else:
            seed[item, logits[item].argmax()] = 1.0
    (grad,) = torch.autograd.grad(logits, embedded, seed)
    return grad


@pytest.mark.parametrize("name", list(MODELS))
def test_token_ids_through_a_hugging_face_forward_match_the_reference(name):
    make, kind, language, reported = MODELS[name]
    torch.manual_seed(3)
    model = make().eval()
    ids = torch.randint(1, VOCABULARY, (2, 9))
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, 6:] = 0  # right-padded: its last kept position is 5
    engine = GuidedBackprop(model, activations="gated")
    for rule in ("gradient", "deconvnet", "guided"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GuidedBackpropWarning)
            explanation = engine.explain(ids, rule=rule, forward_kwargs={"attention_mask": mask})
        assert len(caught) == (1 if reported else 0)
        assert [kind for _, kind in explanation.not_guided] == reported
        expected = reference(model, ids, mask, rule, language)
        assert explanation.attribution.shape == (2, 9, 32)
        torch.testing.assert_close(explanation.attribution, expected, rtol=1e-4, atol=1e-6)
    mlp = [site for site in explanation.sites if site.kind == kind]
    assert len(mlp) == 2
    assert all(site.shape == (2, 9, 48 if name != "gpt2" else 128) for site in mlp)
    if language:
        assert isinstance(explanation.target, TokenTarget)
        assert explanation.target.position[1].nonzero().flatten().tolist() == [5]
        assert explanation.target.position[0].nonzero().flatten().tolist() == [8]


def test_gpt2_without_gates_reports_its_written_out_gelu_by_the_gate_it_computes():
    torch.manual_seed(0)
    model = gpt2().eval()
    ids = torch.randint(0, VOCABULARY, (1, 6))
    with pytest.warns(UserWarning, match="activations='gated'"):
        explanation = GuidedBackprop(model).explain(ids)
    assert explanation.sites == ()
    assert [kind for _, kind in explanation.not_guided] == ["gelu_tanh", "gelu_tanh"]
    # Its map is the plain gradient, as for any model without a site.
    with pytest.warns(GuidedBackpropWarning):
        gradient = GuidedBackprop(model).explain(ids, rule="gradient")
    torch.testing.assert_close(explanation.attribution, gradient.attribution)


def test_a_masked_model_explains_the_masked_position_it_is_told():
    torch.manual_seed(1)
    config = transformers.BertConfig(
        num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=48, **SMALL
    )
    model = transformers.BertForMaskedLM(config).eval()
    mask_id = 4
    ids = torch.tensor([[7, 8, mask_id, 9, 10]])
    explanation = GuidedBackprop(model, activations="gated").explain(
        ids, target=TokenTarget(ids == mask_id)
    )
    assert explanation.target.position.nonzero().tolist() == [[0, 2]]
    logits = explanation.logits
    assert int(explanation.target.token[0, 2]) == int(logits[0, 2].argmax())


@pytest.mark.parametrize("name", list(MODELS))
def test_the_explorer_shows_each_hugging_face_model_on_token_ids(name):
    from gbp_widgets import Explorer

    make, kind, language, reported = MODELS[name]
    torch.manual_seed(4)
    model = make().eval()
    ids = torch.randint(1, VOCABULARY, (1, 7))
    mask = torch.ones_like(ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuidedBackpropWarning)
        explorer = Explorer(
            model=model, inputs=ids, forward_kwargs={"attention_mask": mask}, activations="gated"
        )
        try:
            shown = explorer.explanation
            target = TokenTarget(6, explorer.target) if language else explorer.target
            expected = GuidedBackprop(model, activations="gated").explain(
                ids, target=target, forward_kwargs={"attention_mask": mask}
            )
            torch.testing.assert_close(shown.attribution, expected.attribution)
            assert explorer.session.kind == "tokens"
            assert [s.kind for s in shown.sites if s.kind == kind] == [kind, kind]
            assert explorer.readout(3, 3)["token"] == str(int(ids[0, 0]))
        finally:
            explorer.close()


def word_tokenizer(words: list[str], **special):
    """A Hugging Face tokenizer over ``words`` built offline (a word-level model)."""
    tokenizers = pytest.importorskip("tokenizers")
    inner = tokenizers.Tokenizer(
        tokenizers.models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]")
    )
    inner.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=inner, unk_token="[UNK]", **special
    )


MASKED_WORDS = ["[UNK]", "[MASK]", "the", "cat", "sat", "on", "mat", "a"]


def masked_bert():
    """A one-block BERT masked language model over :data:`MASKED_WORDS`, seeded, with its
    tokenizer (mask token ``[MASK]``): what ``explain-text --model`` takes, too."""
    torch.manual_seed(1)
    config = transformers.BertConfig(
        num_hidden_layers=1,
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=48,
        vocab_size=len(MASKED_WORDS),
        max_position_embeddings=32,
    )
    tokenizer = word_tokenizer(MASKED_WORDS, mask_token="[MASK]")
    return transformers.BertForMaskedLM(config).eval(), tokenizer


def test_the_explorer_explains_a_masked_models_masked_tokens_by_default():
    from gbp_widgets import Explorer

    model, tokenizer = masked_bert()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuidedBackpropWarning)
        explorer = Explorer(
            model=model, text="the cat [MASK] on the mat", tokenizer=tokenizer, activations="gated"
        )
    try:
        ids = torch.tensor([[2, 3, 1, 5, 2, 6]])
        assert torch.equal(explorer.inputs, ids)
        with torch.no_grad():
            guesses = model(ids).logits[0, 2].softmax(-1)
        # The masked token, position 2, is explained with the model's guess of it.
        assert explorer.target == int(guesses.argmax())
        assert [v for _, v in explorer.controls.top.options] == guesses.topk(5).indices.tolist()
        expected = GuidedBackprop(model, activations="gated").explain(
            ids, target=TokenTarget(2, explorer.target)
        )
        torch.testing.assert_close(explorer.explanation.attribution, expected.attribution)
        assert "at token 2" in explorer.scene.captions["attribution"]
        assert explorer.controls.target_kind.options[0][0] == "masked"
        # Another text with two masks: both, summed.
        explorer.text = "[MASK] cat sat on [MASK] mat"
        explorer.refresh()
        target = explorer.explanation.target
        assert target.position[0].nonzero().flatten().tolist() == [0, 4]
    finally:
        explorer.close()


def test_a_causal_models_tokenizer_without_a_mask_keeps_next_token_scores():
    from gbp_widgets import Explorer

    torch.manual_seed(2)
    words = ["[UNK]", "the", "cat", "sat"]
    model = gpt2().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuidedBackpropWarning)
        explorer = Explorer(
            model=model, text="the cat", tokenizer=word_tokenizer(words), activations="gated"
        )
    try:
        assert "next, after token 1" in explorer.scene.captions["attribution"]
    finally:
        explorer.close()


def test_explain_text_explains_a_masked_models_masked_token(tmp_path, capsys):
    from gbp_widgets.cli import main

    out = tmp_path / "m.png"
    text = "the cat [MASK] on the mat"
    argv = ["explain-text", text, "--model", f"{__name__}:masked_bert", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    model, _ = masked_bert()
    with torch.no_grad():
        guess = int(model(torch.tensor([[2, 3, 1, 5, 2, 6]])).logits[0, 2].argmax())
    assert "token at position 2, top 5:" in printed
    assert f"explained: {MASKED_WORDS[guess]!r}" in printed
    assert out.exists()
