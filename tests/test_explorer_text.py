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
    assert explorer.text == TEXT and explorer.target_kind == "class" and explorer.region is None
    kinds = [label for label, _ in explorer.controls.target_kind.options]
    assert kinds[:2] == ["last token", "picked"]
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
    # The token clicked is the region explained: one token of the text's.
    assert explorer.target_kind == "region"
    assert np.flatnonzero(explorer.region.mask).tolist() == [3]
    after = next_token_probabilities(TEXT, 3)
    assert explorer.target == explorer.region.cls == int(after.argmax())
    assert [v for _, v in explorer.controls.top.options] == after.topk(5).indices.tolist()
    assert explorer.explanation.target.position[0].nonzero().flatten().tolist() == [3]
    assert "after token 3" in explorer.scene.captions["attribution"]
    # The token picked is outlined in the input panel, in cyan; the token before it is not.
    cyan = [0, 229, 255]
    picture = explorer.panels["input"]
    y3 = int(token_centre(explorer, 3)[1])
    x2, x3 = int(token_centre(explorer, 2)[0]), int(token_centre(explorer, 3)[0])
    assert any((picture[y3, x, :3] == cyan).all() for x in range(x3 - 30, x3))
    assert not any((picture[y3, x, :3] == cyan).all() for x in range(x2 - 30, x2))
    # A prediction clicked: that token's score after the same position.
    second = [v for _, v in explorer.controls.top.options][1]
    page.choose(explorer.controls.top, second)
    explorer.refresh()
    assert explorer.target == second == explorer.region.cls
    assert np.flatnonzero(explorer.region.mask).tolist() == [3]
    assert int(explorer.explanation.target.token[0, 3]) == second


def test_a_region_of_several_tokens_sums_their_predictions(explorer):
    from gbp_widgets import Region

    mask = np.zeros(len(TEXT), dtype=bool)
    mask[[2, 5]] = True
    explorer.region = Region(7, mask)
    explorer.target_kind = "region"
    explorer.refresh()
    model, tokenizer = load_char_model()
    expected = GuidedBackprop(model, activations="gated").explain(
        encode_text(tokenizer, TEXT), target=TokenTarget([2, 5], 7)
    )
    torch.testing.assert_close(explorer.explanation.attribution, expected.attribution)
    assert "after tokens 2, 5" in explorer.scene.captions["attribution"]
    mean = (next_token_probabilities(TEXT, 2) + next_token_probabilities(TEXT, 5)) / 2
    assert [v for _, v in explorer.controls.top.options] == mean.topk(5).indices.tolist()
    # Back to the last token: the top-5 follow.
    explorer.target_kind = "class"
    explorer.refresh()
    top = next_token_probabilities(TEXT).topk(5).indices.tolist()
    assert [v for _, v in explorer.controls.top.options] == top


def test_a_click_on_a_grid_cell_explains_from_that_unit_of_that_token(explorer):
    explorer.target_kind = "class"
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
    explorer.channel = -1


def test_arrow_keys_step_the_grids_unit_columns_and_the_sites(explorer):
    explorer.target_kind = "class"
    explorer.refresh()
    product = explorer.explanation.sites[0].product[0]  # (T, H), the class's pass
    ranked = product.sum(0).argsort(descending=True, stable=True).tolist()
    output = explorer.session.site_output(0)  # (T, H)
    canvas = explorer.rows[1]
    page.press(canvas, "ArrowRight")
    explorer.refresh()
    first = ranked[0]
    assert explorer.target_kind == "unit" and explorer.unit == (first,)
    assert explorer.channel == int(output[:, first].argmax())
    page.press(canvas, "ArrowRight")
    page.press(canvas, "ArrowRight")
    explorer.refresh()
    # The columns as the class's pass ranks them, at the token row now shown.
    assert explorer.unit == (ranked[2],) and explorer.channel == int(output[:, first].argmax())
    page.press(canvas, "ArrowLeft")
    explorer.refresh()
    assert explorer.unit == (ranked[1],)
    page.press(canvas, "ArrowDown")
    explorer.refresh()
    assert explorer.site == 1
    page.press(canvas, "ArrowUp")
    explorer.target_kind = "class"
    explorer.channel = -1
    explorer.refresh()


def test_the_grid_box_shows_more_or_fewer_of_the_units_that_pass_most(explorer):
    explorer.refresh()
    product = explorer.explanation.sites[0].product[0]  # (T, H)
    ranked = product.sum(0).argsort(descending=True, stable=True).tolist()
    page.choose(explorer.controls.grid_size, 16)
    explorer.refresh()
    assert explorer.grid_size == 16
    shown = {explorer.readout(100, column, "product")["site_position"][0] for column in range(224)}
    assert shown == set(ranked[:16])
    page.choose(explorer.controls.grid_size, 10**6)
    assert "no site here has more than 256 to show" in explorer.message
    assert explorer.grid_size == 16 == explorer.controls.grid_size.value
    explorer.grid_size = 64
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
