"""explain_dataset(engine="ray"): the same rows as in this process, a worker killed mid-run
costs nothing, a half-done folder resumes on Ray, and the session is joined or made as the
data-set guide (docs/guides/dataset.md) says. A local Ray (2 CPUs) is started for these
tests and stopped after them."""

import os
import signal
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from gbp_widgets import DatasetResults, explain_dataset
from gbp_widgets.dataset.store import ResultsFolder
from tests.test_dataset import small_cnn

# The fast subset leaves this out: a local Ray is started.
pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # The test's own Dataset classes travel to the workers by value, not by module name.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


@pytest.fixture
def digits():
    generator = torch.Generator().manual_seed(2)
    return torch.randn(70, 1, 8, 8, generator=generator), torch.arange(70) % 10


class DiesOnce(Dataset):
    """Items of ``x``; the first time item ``fatal`` is read, its process is killed
    (SIGKILL, as the out-of-memory killer or a lost node would), marked in ``marker``."""

    def __init__(self, x, y, fatal, marker):
        self.x, self.y, self.fatal, self.marker = x, y, fatal, str(marker)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        if i == self.fatal and not os.path.exists(self.marker):
            with open(self.marker, "w") as file:
                file.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return self.x[i], self.y[i]


def test_rows_equal_the_local_engines(local_ray, digits, tmp_path):
    model, (x, y) = small_cnn(), digits
    data = TensorDataset(x, y)
    on_ray = explain_dataset(model, data, tmp_path / "ray", batch_size=16, engine="ray")
    here = explain_dataset(model, data, tmp_path / "here", batch_size=16)
    assert ray.is_initialized()  # the session the test started was joined, not replaced
    a, b = on_ray.to_pandas(), here.to_pandas()
    assert a["index"].tolist() == list(range(70))
    exact = ["index", "label", "predicted", "target", "rule", "skipped", "path"]
    assert a[exact].equals(b[exact])
    assert [list(t) for t in a["top5"]] == [list(t) for t in b["top5"]]
    for column in ("top5_probability", "pass_fraction"):
        for u, v in zip(a[column], b[column], strict=True):
            assert np.allclose(u, v, atol=1e-6)
    for u, v in zip(a["saliency"], b["saliency"], strict=True):
        assert np.allclose(np.stack(u), np.stack(v), rtol=1e-3, atol=1e-5)
    assert on_ray.sites == here.sites == ["1#1", "4#1"]


def test_metric_columns_equal_the_local_engines(local_ray, digits, tmp_path):
    model, data = small_cnn(), TensorDataset(*digits)
    both = {"batch_size": 16, "metrics": ("insertion", "deletion"), "metric_steps": 5}
    on_ray = explain_dataset(model, data, tmp_path / "ray", engine="ray", **both).to_pandas()
    here = explain_dataset(model, data, tmp_path / "here", **both).to_pandas()
    for column in ("deletion_auc", "insertion_auc"):
        assert np.allclose(on_ray[column], here[column], atol=1e-9)


def test_a_worker_killed_mid_run_costs_no_item_and_writes_none_twice(local_ray, digits, tmp_path):
    model, (x, y) = small_cnn(), digits
    marker = tmp_path / "killed"
    results = explain_dataset(
        model, DiesOnce(x, y, 41, marker), tmp_path / "out", batch_size=8, engine="ray"
    )
    assert marker.exists()  # a worker really died partway
    counts = ResultsFolder(tmp_path / "out").index_counts()
    assert sorted(counts) == list(range(70)) and set(counts.values()) == {1}
    assert results.to_pandas()["label"].tolist() == y.tolist()
    assert not list((tmp_path / "out").glob("_writing-*"))


def test_a_folder_begun_here_is_finished_on_ray(local_ray, digits, tmp_path):
    model, (x, y) = small_cnn(), digits
    out = tmp_path / "out"
    explain_dataset(model, TensorDataset(x[:30], y[:30]), tmp_path / "first30")
    # The same job stopped after 30 items: its shards, and its manifest (length 70).
    explain_dataset(model, TensorDataset(x, y), out, batch_size=10)
    for shard in out.glob("part-*.parquet"):
        if int(shard.name.split("-")[1]) >= 30:
            shard.unlink()
    assert len(ResultsFolder(out).done()) == 30
    results = explain_dataset(model, TensorDataset(x, y), out, batch_size=16, engine="ray")
    counts = ResultsFolder(out).index_counts()
    assert sorted(counts) == list(range(70)) and set(counts.values()) == {1}
    assert len(results) == 70


def test_without_a_session_it_connects_to_ray_address_else_starts_one(monkeypatch):
    from gbp_widgets.dataset import on_ray

    calls = []
    monkeypatch.setattr(on_ray.ray, "is_initialized", lambda: False)
    monkeypatch.setattr(on_ray.ray, "init", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    on_ray.connect(None)
    on_ray.connect("ray://head:10001")
    monkeypatch.delenv("RAY_ADDRESS")
    on_ray.connect(None)
    assert calls == [
        {"address": "10.0.0.5:6379"},
        {"address": "ray://head:10001"},
        {"include_dashboard": False},
    ]


def test_wrong_actor_counts_are_refused(digits, tmp_path):
    with pytest.raises(ValueError, match="ray_actors must be at least 1"):
        explain_dataset(small_cnn(), digits[0], tmp_path / "out", engine="ray", ray_actors=0)
    assert not (tmp_path / "out").exists()


def test_the_command_line_runs_on_ray_with_the_same_answers(local_ray, tmp_path, capsys):
    from gbp_widgets import sample_image
    from gbp_widgets.cli import main

    for label, photo in (("tabby", "chelsea"), ("espresso", "coffee")):
        (tmp_path / "photos" / label).mkdir(parents=True)
        sample_image(photo).save(tmp_path / "photos" / label / f"{photo}.png")
    folder = str(tmp_path / "photos")
    assert main(["explain-dataset", folder, "--out", str(tmp_path / "ray"), "--ray"]) == 0
    assert "2 items, 0 skipped" in capsys.readouterr().out
    assert main(["explain-dataset", folder, "--out", str(tmp_path / "here")]) == 0
    a = DatasetResults(tmp_path / "ray").to_pandas()
    b = DatasetResults(tmp_path / "here").to_pandas()
    assert a["predicted"].tolist() == b["predicted"].tolist()
    assert a["label_name"].tolist() == ["espresso", "tabby"]
