"""The Gallery over a results folder: filters and sorts as a pandas reader of the same folder
would, per-class pass curves that are the rows' means, tiles drawn from the stored
thumbnails, a click that opens the item in the Explorer with the engine's own answer, and
wrong values refused with the state kept."""

import io
import re

import numpy as np
import pandas as pd
import pytest
import torch
import traitlets
from PIL import Image
from torch.utils.data import TensorDataset

from gbp_widgets import Gallery, GuidedBackprop, explain_dataset
from gbp_widgets.gallery.contact_sheet import SheetLayout, sheet
from tests import page
from tests.test_dataset import gray_8x8, picture_folder, small_cnn


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    generator = torch.Generator().manual_seed(3)
    x, y = torch.randn(70, 1, 8, 8, generator=generator), torch.arange(70) % 10
    model, data = small_cnn(), TensorDataset(x, y)
    out = tmp_path_factory.mktemp("gallery") / "out"
    results = explain_dataset(model, data, out, batch_size=16)
    return model, data, results, pd.read_parquet(out).sort_values("index")


def confidence(frame):
    return frame["top5_probability"].map(lambda p: p[0])


def test_filters_and_sorts_keep_what_pandas_keeps(job):
    model, data, results, frame = job
    gallery = Gallery(results, model, data=data)
    per_page = gallery.layout_of_page.per_page
    assert gallery.page_items() == list(range(per_page)) and gallery.pages == 6

    gallery.correctness = "wrong"
    wrong = frame[frame["label"] != frame["predicted"]]
    assert sorted(gallery.catalogue.index[gallery.selection]) == wrong["index"].tolist()
    gallery.predicted_class = int(wrong["predicted"].mode()[0])
    kept = wrong[wrong["predicted"] == gallery.predicted_class]
    assert sorted(gallery.catalogue.index[gallery.selection]) == kept["index"].tolist()

    gallery.predicted_class, gallery.correctness = -1, "all"
    gallery.confidence = (0.2, 0.5)
    gallery.sort = "confidence_low"
    band = frame[(confidence(frame) >= 0.2) & (confidence(frame) <= 0.5)]
    expected = band.assign(c=confidence(band)).sort_values(["c", "index"])["index"].tolist()
    assert gallery.catalogue.index[gallery.selection].tolist() == expected
    assert gallery.page_items() == expected[:per_page]
    assert f"{len(expected)} of 70 items" in gallery.page_label.value

    gallery.confidence, gallery.sort = (0.0, 1.0), "true_class"
    shown = gallery.catalogue.index[gallery.selection].tolist()
    ordered = frame.assign(c=confidence(frame)).sort_values(["label", "c"], ascending=[1, 0])
    assert shown == ordered["index"].tolist()


def test_tiles_hold_each_rows_own_picture_and_map(job):
    model, data, results, frame = job
    gallery = Gallery(results, model, data=data)
    gallery.sort = "confidence_low"
    tiles = gallery.catalogue.tiles(gallery.selection[:12])
    rows = frame.set_index("index")
    for tile in tiles:
        stored = np.stack(rows.loc[tile.index, "saliency"]).astype(np.float32)
        assert tile.saliency.shape == (8, 8) and np.array_equal(tile.saliency, stored)
        picture = np.asarray(Image.open(io.BytesIO(rows.loc[tile.index, "picture"])))
        assert np.array_equal(tile.picture[..., 0], picture)


def test_pages_turn_and_stop_at_the_ends(job):
    model, data, results, _ = job
    gallery = Gallery(results, model, data=data)
    gallery.next_button.click()
    assert gallery.page == 1 and gallery.page_items()[0] == 12
    for _ in range(10):
        gallery.next_button.click()
    assert gallery.page == 5 and gallery.page_items() == list(range(60, 70))
    assert gallery.next_button.disabled and not gallery.previous_button.disabled
    gallery.true_class = 3  # a new filter starts at its first page
    assert gallery.page == 0 and gallery.page_items() == [3, 13, 23, 33, 43, 53, 63]


def test_a_page_that_connects_later_is_sent_the_page_again(job, monkeypatch):
    import ipycanvas.canvas

    model, data, results, _ = job
    gallery = Gallery(results, model, data=data)
    gallery.next_button.click()
    sent = []
    manager = ipycanvas.canvas._CANVAS_MANAGER
    monkeypatch.setattr(manager, "_send_custom", lambda command, buffers=(): sent.append(buffers))
    # What ipycanvas's front end sends when a new page has made the canvas.
    page.event(gallery.canvas, "client_ready")
    (buffers,) = sent
    pictures = [np.asarray(Image.open(io.BytesIO(bytes(b)))) for b in buffers]
    assert len(pictures) == 1 and pictures[0].shape[:2] == (
        gallery.canvas.height,
        gallery.canvas.width,
    )
    assert gallery.page == 1 and gallery.page_items()[0] == 12


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("true_class", 42, "no item has true class 42"),
        ("correctness", "maybe", "correctness 'maybe'"),
        ("confidence", (0.8, 0.2), "use 0 <= low <= high <= 1"),
        ("sort", "size", "sort 'size'"),
        ("page", 9, "there are 1 (0 to 0)"),
    ],
)
def test_wrong_values_are_refused_and_the_state_kept(job, name, value, words):
    model, data, results, _ = job
    gallery = Gallery(results, model, data=data)
    gallery.true_class, gallery.page = 2, 0
    before = (gallery.filters(), gallery.page, gallery.page_items())
    with pytest.raises(traitlets.TraitError, match=re.escape(words)):
        setattr(gallery, name, value)
    assert (gallery.filters(), gallery.page, gallery.page_items()) == before


def test_pass_curves_are_the_means_of_the_rows_per_class(job):
    model, data, results, frame = job
    gallery = Gallery(results, model, data=data)
    gallery.correctness = "correct"
    curves = gallery.catalogue.pass_curves(gallery.selection)
    right = frame[frame["label"] == frame["predicted"]]
    for label, group in right.groupby("label"):
        expected = np.stack(group["pass_fraction"]).mean(axis=0)
        assert np.allclose(curves[f"class {label} ({len(group)})"], expected)
    assert len(curves) == right["label"].nunique()
    assert bytes(gallery.curves.value).startswith(b"\x89PNG")


def test_a_click_on_a_tile_opens_that_item_as_the_engine_explains_it(job):
    model, data, results, frame = job
    gallery = Gallery(results, model, data=data)
    gallery.sort = "confidence_high"
    layout = gallery.layout_of_page
    x, y = layout.origin(5)
    page.event(gallery.canvas, "mouse_down", x=x + layout.size + 10, y=y + 10)  # sixth map
    index = gallery.page_items()[5]
    assert gallery.item == index
    x_item, _ = data[index]
    assert torch.equal(gallery.explorer.inputs, x_item[None])
    target = int(frame.set_index("index").loc[index, "target"])
    direct = GuidedBackprop(model).explain(x_item[None], target)
    assert torch.equal(gallery.explorer.explanation.attribution, direct.attribution)
    assert f"Item {index} in the Explorer" in gallery.explorer_box.children[0].value
    # Between tiles nothing happens.
    page.event(gallery.canvas, "mouse_down", x=layout.tile_width + 3, y=5)
    assert gallery.item == index


def test_items_that_cannot_be_opened_say_what_is_missing(job):
    model, data, results, _ = job
    other = small_cnn()
    with torch.no_grad():
        other[0].bias.add_(1.0)
    cases = [
        (Gallery(results, model), "pass data="),
        (Gallery(results, other, data=data), "other weights"),
    ]
    for gallery, words in cases:
        with pytest.raises(traitlets.TraitError, match=words):
            gallery.item = 4
        assert gallery.item is None and gallery.explorer is None
        # A click on a tile says the same under the page, and opens nothing.
        page.event(gallery.canvas, "mouse_down", x=10, y=10)
        assert gallery.item is None and gallery.explorer is None and words in gallery.message
        assert words in gallery.status.value


def test_a_picture_folder_shows_its_files_and_its_skipped_item(tmp_path):
    root = picture_folder(tmp_path / "pictures", {"cats": 2, "dogs": 2}, size=(16, 24))
    preprocess = gray_8x8
    model = small_cnn()
    results = explain_dataset(model, root, tmp_path / "out", preprocess=preprocess)
    gallery = Gallery(results, model, preprocess=preprocess)
    tiles = gallery.catalogue.tiles(gallery.selection)
    first = np.asarray(Image.open(root / "cats" / "0.png"))
    assert np.array_equal(tiles[0].picture, first)  # small files are kept as they are
    broken = [tile for tile in tiles if tile.skipped]
    assert len(broken) == 1 and broken[0].picture is None and broken[0].saliency is None
    # Folder names that are not class names: correct and wrong cannot be told apart.
    assert gallery.controls["correctness"].disabled
    with pytest.raises(traitlets.TraitError, match="not the model's class names"):
        gallery.correctness = "wrong"
    with pytest.raises(traitlets.TraitError, match="was skipped"):
        gallery.item = broken[0].index
    gallery.item = 0
    assert torch.equal(gallery.explorer.inputs, preprocess(Image.open(root / "cats/0.png"))[None])


def test_the_sheet_puts_each_picture_and_map_in_its_boxes():
    layout = SheetLayout(columns=2, rows=1, size=16)
    picture = np.arange(8 * 4 * 3, dtype=np.uint8).reshape(8, 4, 3)
    saliency = np.zeros((2, 2))
    saliency[0, 1] = 1.0
    drawn = sheet(layout, [(None, None, True), (picture, saliency, False)])
    assert drawn.shape == (layout.height, layout.width, 4)
    x, y = layout.origin(1)
    # An 8 x 4 picture scaled by 2 into its 16 x 16 box, centred across.
    assert np.array_equal(drawn[y : y + 16 : 2, x + 4 : x + 12 : 2, :3], picture)
    map_x = x + 16 + 4
    assert (drawn[y : y + 8, map_x + 8 : map_x + 16, :3] == 255).all()  # the bright unit
    assert (drawn[y + 8 : y + 16, map_x : map_x + 16, :3] == 0).all()
    assert tuple(drawn[0, 0, :3]) == (250, 215, 215)  # a skipped item's box
    assert layout.hit(x + 1, y + 1) == 1 and layout.hit(x - 2, y + 1) is None
