"""The Explorer on text: the shipped character GPT by default, or any model over token ids
with its tokenizer. Values typed and clicked arrive as a page sends them (``tests/page.py``);
every picture and number is held against the engine or the model itself."""

import html
import warnings

import numpy as np
import pytest
import torch

from gbp_widgets import Explorer, GuidedBackprop, Neuron, TokenTarget
from gbp_widgets.text import encode_text, load_char_model
from tests import page
from tests.fingerprint import assert_same, snapshot

TEXT = "for item in items:"


@pytest.fixture(scope="module")
def explorer():
    made = Explorer(text=TEXT, activations="gated")
    yield made
    made.close()


def next_token_probabilities(text: str, position: int = -1) -> torch.Tensor:
    model, tokenizer = load_char_model()
    with torch.no_grad():
        return model(encode_text(tokenizer, text))[0, position].softmax(-1)


def token_centre(explorer, token: int) -> tuple[float, float]:
    """The canvas point of token ``token``'s cell in the input panel (first row)."""
    count = len(explorer.inputs[0])
    columns = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    row, column = divmod(token, columns)
    cell = explorer.panel_size
    return (column + 0.5) * cell / columns, (row + 0.5) * cell / rows


def test_the_default_text_model_shows_its_tokens_predictions_and_a_token_unit_grid(explorer):
    assert explorer.panel_names()[:2] == ("input", "attribution")
    assert explorer.text == TEXT and explorer.position == -1
    expected = next_token_probabilities(TEXT)
    top = expected.topk(5)
    offered = [value for _, value in explorer.controls.top.options]
    assert offered == top.indices.tolist()
    labels = [label for label, _ in explorer.controls.top.options]
    assert labels[0] == f"↵ {100 * float(top.values[0]):.1f}%"
    assert explorer.target == int(top.indices[0])
    target = explorer.explanation.target
    assert target.position[0].nonzero().flatten().tolist() == [len(TEXT) - 1]
    # The masks at a GELU site: tokens down, the 64 units that pass the most across.
    assert explorer.site_names == ["blocks.0.mlp.1#1", "blocks.1.mlp.1#1"]
    assert explorer.rows[1].names == ("forward", "backward", "product")
    read = explorer.readout(5, 5)
    assert read["token"] == "f" and read["site_channel"] == 0


def test_its_map_is_the_engines_for_the_next_token(explorer):
    model, tokenizer = load_char_model()
    ids = encode_text(tokenizer, TEXT)
    token = explorer.target
    expected = GuidedBackprop(model, activations="gated").explain(
        ids, target=TokenTarget(len(TEXT) - 1, token)
    )
    torch.testing.assert_close(explorer.explanation.attribution, expected.attribution)
    scores = (expected.attribution[0] * expected.embedded[0]).sum(-1)
    read = explorer.readout(5, 5)
    assert read["attribution"][0] == pytest.approx(float(scores[0]), rel=1e-5, abs=1e-7)


def test_a_click_on_a_token_explains_the_prediction_after_it(explorer):
    strip = explorer.rows[0]
    x, y = token_centre(explorer, 3)
    page.click(strip, x, y)
    explorer.refresh()
    assert explorer.position == 3
    after = next_token_probabilities(TEXT, 3)
    assert explorer.target == int(after.argmax())
    assert [v for _, v in explorer.controls.top.options] == after.topk(5).indices.tolist()
    assert explorer.explanation.target.position[0].nonzero().flatten().tolist() == [3]
    # A prediction clicked: that token's score after the same position.
    second = [v for _, v in explorer.controls.top.options][1]
    page.choose(explorer.controls.top, second)
    explorer.refresh()
    assert explorer.target == second and explorer.position == 3
    assert int(explorer.explanation.target.token[0, 3]) == second


def test_a_click_on_a_grid_cell_explains_from_that_unit_of_that_token(explorer):
    explorer.position = -1
    explorer.refresh()
    strip = explorer.rows[1]
    row, column = 150, 40  # inside the forward panel
    read = explorer.readout(row, column, "forward")
    token, (unit,) = read["site_channel"], read["site_position"]
    # The token read is the grid row's, not the input cell's at the same pixel.
    assert read["where"] == f"token {token}" and read["token"] == TEXT[token].replace(" ", "·")
    page.click(strip, column, row)
    explorer.refresh()
    assert explorer.target_kind == "unit"
    model, tokenizer = load_char_model()
    expected = GuidedBackprop(model, activations="gated").explain(
        encode_text(tokenizer, TEXT), target=Neuron(explorer.site_names[0], token, position=(unit,))
    )
    torch.testing.assert_close(explorer.explanation.attribution, expected.attribution)
    # A site's rows are tokens here, and the words say so.
    assert f"unit ({unit},) of token {token} at" in explorer.scene.captions["attribution"]
    assert explorer.controls.channel.options[0][0] == "all tokens"
    explorer.target_kind = "class"


def test_the_units_box_shows_more_or_fewer_of_the_units_that_pass_most(explorer):
    explorer.refresh()
    product = explorer.explanation.sites[0].product[0]  # (T, H)
    ranked = product.sum(0).argsort(descending=True, stable=True).tolist()
    page.choose(explorer.controls.units, 16)
    explorer.refresh()
    assert explorer.units == 16
    shown = {explorer.readout(100, column, "product")["site_position"][0] for column in range(224)}
    assert shown == set(ranked[:16])
    page.choose(explorer.controls.units, 10**6)
    assert "this site has 256 units per token" in explorer.message
    assert explorer.units == 16 == explorer.controls.units.value
    explorer.units = 64
    explorer.refresh()


def test_a_text_typed_in_the_box_is_explained_and_a_bad_one_refused(explorer):
    page.choose(explorer.controls.text, "import os")
    explorer.refresh()
    assert explorer.text == "import os" and explorer.inputs.shape == (1, 9)
    assert explorer.target == int(next_token_probabilities("import os").argmax())
    before = snapshot(explorer.session.engine.model)
    panels = {k: v.copy() for k, v in explorer.refresh().items()}
    for bad, said in [
        ("héllo", "does not know 'é'"),
        ("", "the text is empty"),
        ("x" * 80, "more than the model's context of 64"),
    ]:
        page.choose(explorer.controls.text, bad)
        explorer.refresh()
        assert said in explorer.message
        assert explorer.controls.text.value == "import os" == explorer.text
        for key, picture in panels.items():
            assert np.array_equal(explorer.panels[key], picture), key
    assert_same(before, snapshot(explorer.session.engine.model))
    page.choose(explorer.controls.text, TEXT)
    explorer.refresh()


def test_the_comparison_the_figure_and_the_sanity_check_work_on_text(explorer, tmp_path):
    explorer.compare = True
    explorer.refresh()
    assert set(explorer.comparison) >= {"gradient", "deconvnet", "guided"}
    explorer.compare = False
    out = explorer.save_png(tmp_path / "text.png")
    assert out.read_bytes()[:4] == b"\x89PNG"
    result = explorer.run_sanity(max_steps=2)
    assert result is not None and result.steps[:2] == ["original", "head"]


class Words:
    """A word tokenizer with a token that is markup, to see it escaped wherever shown."""

    def __init__(self):
        self.vocabulary = ["<img/src=x/onerror=alert(1)>", "the", "cat", "sat"]

    def __call__(self, text):
        return [self.vocabulary.index(word) for word in text.split()]

    def decode(self, ids):
        return " ".join(self.vocabulary[i] for i in ids)


class TinyLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.tokens = torch.nn.Embedding(4, 8)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU())
        self.head = torch.nn.Linear(16, 4)

    def forward(self, ids):
        return self.head(self.mlp(self.tokens(ids)))


def test_token_text_is_escaped_everywhere_the_kernel_writes_html():
    torch.manual_seed(0)
    markup = "<img/src=x/onerror=alert(1)>"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shown = Explorer(
            model=TinyLM(), text=f"the {markup} cat", tokenizer=Words(), activations="gated"
        )
    try:
        shown.target = 0  # the markup token is the one explained
        shown.refresh()
        page.hover(shown.rows[0], 100, 100)
        written = [
            shown.board.readout_view.value,
            shown.status.value,
            *(strip.canvas.header for strip in shown.rows),
        ]
        assert any(html.escape(markup) in text for text in written)
        assert not any(markup in text for text in written)
        assert markup in shown.classes and markup in [o for o in shown.controls.class_name.options]
    finally:
        shown.close()
