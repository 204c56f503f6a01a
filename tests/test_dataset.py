"""explain_dataset: one row per item, the engine's numbers in it, a resumable folder that never
holds half a shard, pictures that cannot be read listed as skipped, wrong calls refused."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from gbp_widgets import DatasetResults, GuidedBackprop, explain_dataset
from gbp_widgets.dataset.job import weights_fingerprint


def small_cnn():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )
    return model.eval()


@pytest.fixture
def digits():
    generator = torch.Generator().manual_seed(1)
    return torch.randn(70, 1, 8, 8, generator=generator), torch.arange(70) % 10


def test_rows_hold_the_engines_answers(digits, tmp_path):
    model, (x, y) = small_cnn(), digits
    results = explain_dataset(model, TensorDataset(x, y), tmp_path / "out", batch_size=16)
    frame = pd.read_parquet(tmp_path / "out")  # the folder as it is, without gbp-widgets
    assert sorted(frame["index"]) == list(range(70)) and len(results) == 70
    rows = results.to_pandas()
    assert rows["label"].tolist() == y.tolist()
    with torch.no_grad():
        logits = model(x)
    assert rows["predicted"].tolist() == logits.argmax(1).tolist()
    assert rows["target"].tolist() == logits.argmax(1).tolist()
    assert [list(top) for top in rows["top5"]] == logits.topk(5).indices.tolist()
    right = int((logits.argmax(1) == y).sum())
    assert f"accuracy {100 * right / 70:.1f}% on 70 labelled items" in results.summary()
    engine = GuidedBackprop(model).explain(x[:1])
    item = results.item(0)
    expected = engine.attribution[0].abs().amax(0).numpy()
    assert item["saliency"].dtype == np.float16 and item["saliency"].shape == (8, 8)
    assert np.allclose(item["saliency"], expected, rtol=1e-2, atol=1e-4)
    assert results.sites == [site.name for site in engine.sites] == ["1#1", "4#1"]
    shares = [float(site.product.float().mean()) for site in engine.sites]
    assert np.allclose(item["pass_fraction"], shares)


def test_the_mask_recorded_follows_the_rule(digits, tmp_path):
    model, (x, _) = small_cnn(), digits
    results = explain_dataset(model, x, tmp_path / "out", rule="gradient", target=3)
    engine = GuidedBackprop(model).explain(x[5:6], target=3, rule="gradient")
    shares = [float(site.forward_mask.float().mean()) for site in engine.sites]
    assert np.allclose(results.item(5)["pass_fraction"], shares)
    assert set(results.to_pandas()["target"]) == {3}
    assert results.to_pandas()["label"].isna().all()


def test_gated_sites_record_the_mean_of_their_soft_mask(digits, tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.GELU(), nn.Flatten(), nn.Linear(6 * 8 * 8, 10)
    ).eval()
    x, _ = digits
    results = explain_dataset(model, x, tmp_path / "out", activations="gated", target=2)
    site = GuidedBackprop(model, activations="gated").explain(x[7:8], target=2).sites[0]
    assert results.sites == ["1#1"] and site.kind == "gelu"
    assert np.allclose(results.item(7)["pass_fraction"], [float(site.product.mean())])
    with pytest.raises(ValueError, match="activations: 'gated' there, 'relu' now"):
        explain_dataset(model, x, tmp_path / "out", target=2)


class StopsAt(Dataset):
    """Items of ``x``; asking for item ``stop`` interrupts the job as Ctrl-C would."""

    def __init__(self, x, stop=None):
        self.x, self.stop = x, stop

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        if i == self.stop:
            raise KeyboardInterrupt
        return self.x[i]


def test_an_interrupted_job_leaves_whole_shards_and_resumes_each_item_once(digits, tmp_path):
    model, (x, _) = small_cnn(), digits
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        explain_dataset(model, StopsAt(x, stop=37), out, batch_size=10)
    assert not list(out.glob("_writing-*"))
    assert sorted(pd.read_parquet(out)["index"]) == list(range(30))
    # A shard half written by a killed process is left under a bookkeeping name.
    (out / "_writing-part-x.parquet").write_bytes(b"half a shard")
    results = explain_dataset(model, StopsAt(x), out, batch_size=8)
    assert sorted(results.to_pandas()["index"]) == list(range(70))
    assert not list(out.glob("_writing-*"))
    whole = explain_dataset(model, x, tmp_path / "whole", batch_size=70).to_pandas()
    resumed = results.to_pandas()
    assert resumed["predicted"].tolist() == whole["predicted"].tolist()
    for a, b in zip(resumed["pass_fraction"], whole["pass_fraction"], strict=True):
        assert np.allclose(a, b)


def test_other_arguments_into_the_same_folder_are_refused(digits, tmp_path):
    model, (x, y) = small_cnn(), digits
    explain_dataset(model, TensorDataset(x, y), tmp_path / "out")
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    with pytest.raises(ValueError, match="rule: 'guided' there, 'deconvnet' now"):
        explain_dataset(model, TensorDataset(x, y), tmp_path / "out", rule="deconvnet")
    other = small_cnn()
    with torch.no_grad():
        other[0].weight.add_(1.0)
    with pytest.raises(ValueError, match="weights"):
        explain_dataset(other, TensorDataset(x, y), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before
    # Batch size and a DataLoader instead of the Dataset decide nothing: nothing to do.
    loader = DataLoader(TensorDataset(x, y), batch_size=7)
    assert len(explain_dataset(model, loader, tmp_path / "out", batch_size=5)) == 70


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda m, x, out: explain_dataset(m, DataLoader(x, shuffle=True), out), "shuffle=False"),
        (lambda m, x, out: explain_dataset(m, x, out, engine="spark"), "engine 'spark'"),
        (lambda m, x, out: explain_dataset(m, x, out, rule="lrp"), "unknown rule 'lrp'"),
        (
            lambda m, x, out: explain_dataset(m, x, out, activations="swish"),
            "unknown activations 'swish': use 'relu'",
        ),
        (lambda m, x, out: explain_dataset(m, x, out, batch_size=0), "at least 1"),
        (lambda m, x, out: explain_dataset(m, x, out, target="label"), "needs every item"),
        (lambda m, x, out: explain_dataset(m, str(out), out), "needs preprocess="),
        (
            lambda m, x, out: explain_dataset(m, x, out, metrics=("aopc",)),
            "unknown metrics 'aopc': use 'deletion', 'insertion'",
        ),
        (
            lambda m, x, out: explain_dataset(m, x, out, metrics=("deletion", "deletion")),
            "names one twice",
        ),
        (
            lambda m, x, out: explain_dataset(m, x, out, metrics=("deletion",), metric_steps=0),
            "metric_steps must be a whole number >= 1, got 0",
        ),
    ],
)
def test_wrong_calls_are_told_what_to_do(call, words, digits, tmp_path):
    model, (x, _) = small_cnn(), digits
    fingerprint = weights_fingerprint(model)
    with pytest.raises(ValueError, match=words):
        call(model, x, tmp_path / "out")
    assert weights_fingerprint(model) == fingerprint


def picture_folder(root, counts: dict[str, int], size=(12, 12)):
    """Random pictures in class sub-folders of ``root``, and one file that is no picture
    (``dogs/broken.jpg``)."""
    generator = np.random.default_rng(0)
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            pixels = generator.integers(0, 255, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    (root / "dogs" / "broken.jpg").write_bytes(b"not a picture")
    return root


def gray_8x8(picture):
    """A picture as the ``(1, 8, 8)`` input of :func:`small_cnn`."""
    gray = np.asarray(picture.convert("L").resize((8, 8)), dtype=np.float32) / 255
    return torch.from_numpy(gray)[None]


def test_a_folder_of_pictures_with_classes_and_an_unreadable_file(tmp_path):
    root = picture_folder(tmp_path / "pictures", {"cats": 3, "dogs": 2})
    results = explain_dataset(small_cnn(), root, tmp_path / "out", preprocess=gray_8x8)
    rows = results.to_pandas()
    assert rows["label_name"].tolist() == ["cats"] * 3 + ["dogs"] * 3
    assert rows["label"].tolist() == [0, 0, 0, 1, 1, 1]
    broken = rows[rows["path"].str.endswith("broken.jpg")].iloc[0]
    assert pd.isna(broken["predicted"]) and broken["saliency"] is None
    assert "is not an image file Pillow can read" in broken["skipped"]
    assert rows["skipped"].notna().sum() == 1
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert manifest["label_names"] == ["cats", "dogs"] and manifest["length"] == 6


def test_results_of_a_folder_that_holds_none_are_refused(tmp_path):
    with pytest.raises(ValueError, match="holds no explain_dataset results"):
        DatasetResults(tmp_path)


def test_the_command_line_explains_a_folder_and_sums_it_up(tmp_path, capsys):
    from gbp_widgets import sample_image
    from gbp_widgets.cli import main

    for label, photo in (("tabby", "chelsea"), ("espresso", "coffee")):
        (tmp_path / "photos" / label).mkdir(parents=True)
        sample_image(photo).save(tmp_path / "photos" / label / f"{photo}.png")
    (tmp_path / "photos" / "espresso" / "bad.jpg").write_bytes(b"not a picture")
    out = tmp_path / "results"
    assert main(["explain-dataset", str(tmp_path / "photos"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    # The cat photo is taken for a tiger cat, not a tabby; the espresso is an espresso.
    assert "3 items, 1 skipped" in printed and "accuracy 50.0% on 2 labelled items" in printed
    assert str(out) in printed
    frame = pd.read_parquet(out)
    assert len(frame) == 3 and frame["predicted"].notna().sum() == 2
    assert (
        main(["explain-dataset", str(tmp_path / "photos"), "--out", str(out), "--rule", "x"]) == 2
    )
    assert "unknown rule 'x'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["--actors", "2"], "--actors counts Ray actors: add --ray"),
    ],
)
def test_wrong_command_lines_are_told_what_to_do(arguments, words, tmp_path, capsys):
    from gbp_widgets.cli import main

    (tmp_path / "photos").mkdir()
    command = ["explain-dataset", str(tmp_path / "photos"), "--out", str(tmp_path / "r")]
    assert main(command + arguments) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_the_summary_file_follows_the_shards(digits, tmp_path):
    model, (x, y) = small_cnn(), digits
    results = explain_dataset(model, TensorDataset(x, y), tmp_path / "out", batch_size=16)
    summary = pd.read_parquet(tmp_path / "out" / "_summary.parquet")
    frame = pd.read_parquet(tmp_path / "out")  # the summary is not read as rows
    assert len(frame) == 70 and summary["index"].tolist() == list(range(70))
    assert summary["predicted"].tolist() == frame.sort_values("index")["predicted"].tolist()
    # A shard gone (a folder copied in part): the summary is stale and gathered again.
    first = sorted((tmp_path / "out").glob("part-*"))[0]
    first.unlink()
    assert len(results.summary_table()) == 54
    assert results.rows([20], ["index"])["index"].to_pylist() == [20]
    assert results.rows([3], ["index"]).num_rows == 0


def test_rows_looked_up_one_by_one_read_the_summary_once_until_it_changes(
    digits, tmp_path, monkeypatch
):
    import pyarrow.parquet

    model, (x, y) = small_cnn(), digits
    out = tmp_path / "out"
    explain_dataset(model, TensorDataset(x, y), out, batch_size=16)
    reads = []
    read_table = pyarrow.parquet.read_table

    def counted(source, *args, **kwargs):
        reads.append(Path(source).name)
        return read_table(source, *args, **kwargs)

    monkeypatch.setattr(pyarrow.parquet, "read_table", counted)
    results = DatasetResults(out)
    assert [results.item(i)["index"] for i in (0, 17, 69)] == [0, 17, 69]
    assert reads.count("_summary.parquet") == 1
    # Another reader rebuilds the file: this one reads it again.
    (out / "_summary.parquet").unlink()
    DatasetResults(out).summary_table()
    assert results.item(5)["index"] == 5
    assert reads.count("_summary.parquet") == 2
    # A shard gone: the kept summary no longer describes the folder.
    sorted(out.glob("part-*"))[0].unlink()
    with pytest.raises(KeyError, match="no item 3"):
        results.item(3)


def test_whole_attributions_on_request_read_back_with_numpy_alone(digits, tmp_path):
    model, (x, y) = small_cnn(), digits
    explain_dataset(model, TensorDataset(x, y), tmp_path / "out", attributions=True)
    frame = pd.read_parquet(tmp_path / "out").set_index("index")
    row = frame.loc[9]
    whole = np.reshape(row["attribution"], row["attribution_shape"])
    expected = GuidedBackprop(model).explain(x[9:10]).attribution[0]
    assert whole.shape == (1, 8, 8) and np.allclose(whole, expected.numpy())
    with pytest.raises(ValueError, match="attributions: True there, False now"):
        explain_dataset(model, TensorDataset(x, y), tmp_path / "out")
    explain_dataset(model, TensorDataset(x, y), tmp_path / "r")
    assert "attribution" not in pd.read_parquet(tmp_path / "r").columns


def test_a_folders_picture_is_what_the_model_saw_where_the_crop_is_known(tmp_path):
    from gbp_widgets import Preprocessing
    from gbp_widgets.dataset.sources import PictureFolder

    root = picture_folder(tmp_path / "pictures", {"cats": 1, "dogs": 1}, size=(16, 24))
    cropped = PictureFolder(root, Preprocessing(size=16, resize=16)).item(0)
    assert cropped.picture.size == (16, 16)  # the centre square the model saw, like the map
    whole = PictureFolder(root, gray_8x8).item(0)
    assert whole.picture.size == (24, 16)  # an unknown preprocessing: the whole file


def test_metric_columns_hold_each_items_deletion_and_insertion_areas(digits, tmp_path):
    from tests.curve_reference import reference_blur, reference_curve
    from tests.reference import reference_attribution

    model, (x, y) = small_cnn(), digits
    out = tmp_path / "out"
    metrics = ("deletion", "insertion")
    results = explain_dataset(
        model, TensorDataset(x, y), out, batch_size=16, metrics=metrics, metric_steps=6
    )
    frame = pd.read_parquet(out).set_index("index").sort_index()
    assert frame["deletion_auc"].notna().all() and frame["insertion_auc"].notna().all()
    with torch.no_grad():
        predicted = model(x).argmax(1)
    guided = reference_attribution(model, x, predicted, "guided")
    blurred = reference_blur(x)
    for i in (0, 17, 69):
        for column, baseline, delete in (
            ("deletion_auc", torch.zeros_like(x), True),
            ("insertion_auc", blurred, False),
        ):
            _, area = reference_curve(
                model, x[i], guided[i], int(predicted[i]), 6, baseline[i], delete
            )
            assert abs(frame.loc[i, column] - area) < 1e-6
    means = frame["deletion_auc"].mean(), frame["insertion_auc"].mean()
    assert f"mean deletion_auc {means[0]:.3f}, insertion_auc {means[1]:.3f}" in results.summary()
    # The manifest decides: other metrics, or other steps, do not resume this folder.
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(ValueError, match="metric_steps: 6 there, 7 now"):
        explain_dataset(model, TensorDataset(x, y), out, metrics=metrics, metric_steps=7)
    with pytest.raises(ValueError, match=r"metrics: \['deletion', 'insertion'\] there, \[\] now"):
        explain_dataset(model, TensorDataset(x, y), out)
    assert sorted(p.name for p in out.iterdir()) == before
    plain = explain_dataset(model, TensorDataset(x, y), tmp_path / "plain")
    assert "deletion_auc" not in plain.to_pandas().columns and "mean" not in plain.summary()


def test_a_folder_written_before_metrics_existed_resumes_without_them(digits, tmp_path):
    model, (x, y) = small_cnn(), digits
    out = tmp_path / "out"
    explain_dataset(model, TensorDataset(x[:32], y[:32]), out, batch_size=16)
    manifest = json.loads((out / "_manifest.json").read_text())
    for key in ("metrics", "metric_steps"):
        del manifest[key]
    (out / "_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="metrics: \\[\\] there, \\['deletion'\\] now"):
        explain_dataset(model, TensorDataset(x[:32], y[:32]), out, metrics=("deletion",))
    assert len(explain_dataset(model, TensorDataset(x[:32], y[:32]), out)) == 32


def test_metrics_of_an_output_that_is_not_class_scores_are_refused(digits, tmp_path):
    class Dense(nn.Module):
        def forward(self, x):
            return torch.cat([x.relu(), -x], dim=1)  # (N, 2, H, W): scores at every position

    with pytest.raises(TypeError, match="need class scores"):
        explain_dataset(Dense(), digits[0], tmp_path / "out", target=1, metrics=("deletion",))
    assert not list((tmp_path / "out").glob("*.parquet"))


def test_the_command_line_adds_the_metric_columns_and_sums_them_up(tmp_path, capsys):
    from gbp_widgets import sample_image
    from gbp_widgets.cli import main

    (tmp_path / "photos").mkdir()
    sample_image("coffee").save(tmp_path / "photos" / "coffee.png")
    out = tmp_path / "results"
    command = ["explain-dataset", str(tmp_path / "photos"), "--out", str(out)]
    assert main(command + ["--metrics", "deletion", "insertion", "--metric-steps", "3"]) == 0
    frame = pd.read_parquet(out)
    printed = capsys.readouterr().out
    assert f"mean deletion_auc {frame['deletion_auc'][0]:.3f}" in printed
    assert 0 <= frame["deletion_auc"][0] <= 1 and 0 <= frame["insertion_auc"][0] <= 1
    assert main(command[:2] + ["--out", str(tmp_path / "r"), "--metrics", "aopc"]) == 2
    assert "unknown metrics 'aopc'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
