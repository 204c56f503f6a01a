"""Bad input to ``gbp-widgets explain``, as a table: one line on stderr, exit status 2, and no
figure (whole or partial) left behind. Then a user's own model, by function, with class
names and a target by name, and a torchvision model with random weights."""

import os
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from gbp_widgets.cli import main

MODELS = textwrap.dedent(
    """
    import torch
    from torch import nn


    def build():
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
        )


    def not_a_model():
        return 42
    """
)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A working folder holding mymodels.py, a class list and a regular file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mymodels.py").write_text(MODELS)
    (tmp_path / "four.txt").write_text("ant\nbee\ncat\ndog\n")
    (tmp_path / "three.txt").write_text("ant\nbee\ncat\n")
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "plain-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    return tmp_path


# id: (arguments after "explain", message fragment)
REFUSED = {
    "unknown sample": (["--sample", "nosuch"], "unknown sample 'nosuch': use one of chelsea"),
    "image and sample": (["photo.png", "--sample", "coffee"], "not both"),
    "missing image": (["nowhere.png"], "'nowhere.png' does not exist"),
    "out is a folder": (["--out", "a-folder"], "is a folder: give a file name"),
    "out under a file": (["--out", "plain-file/x.png"], "plain-file is a file, not a folder"),
    "out in a missing folder": (["--out", "missing/x.png"], "the folder missing does not exist"),
    "out without a format": (["--out", "figure.xyz"], "cannot tell the figure's format"),
    "unknown device": (["--device", "bogus"], "unknown device 'bogus'"),
    "unreadable class file": (["--classes", "nothing.txt"], "could not be read"),
    "empty class file": (["--classes", "empty.txt"], "holds no names"),
    "class file of the wrong length": (
        ["--classes", "three.txt"],
        "has 3 names, but the model gives 1000 scores",
    ),
    "unknown class name": (["--target", "tabbby"], "no class called 'tabbby'"),
    "class index out of range": (["--target", "5000"], "out of range"),
    "unknown weights": (["--weights", "bogus"], "unknown weights 'bogus'"),
    "unknown model": (["--model", "resnet_nope"], "unknown model 'resnet_nope'"),
    "module that cannot be imported": (["--model", "nosuchmodule:build"], "could not import"),
    "function that does not exist": (["--model", "mymodels:nothing"], "has no function"),
    "function that returns no model": (["--model", "mymodels:not_a_model"], "returned int"),
    "weights for the user's model": (
        ["--model", "mymodels:build", "--weights", "none"],
        "--weights is for named models",
    ),
    "class names not matching the user's model": (
        ["--model", "mymodels:build", "--classes", "three.txt"],
        "has 3 names, but the model gives 4 scores",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_input_is_one_line_exit_2_and_no_file(folder, capsys, case):
    arguments, fragment = REFUSED[case]
    if "--out" not in arguments:
        arguments = [*arguments, "--out", "figure.png"]
    before = set(os.listdir(folder))
    assert main(["explain", *arguments]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and fragment in captured.err, captured.err
    assert captured.out == ""
    assert set(os.listdir(folder)) - before == set()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_on_a_machine_without_one_is_refused_before_any_work(folder, capsys):
    assert main(["explain", "--device", "cuda", "--out", "figure.png"]) == 2
    assert "no CUDA device; use --device cpu" in capsys.readouterr().err
    assert not (folder / "figure.png").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_folder_without_write_permission_is_refused(folder, capsys):
    locked = folder / "locked"
    locked.mkdir(mode=0o500)
    assert main(["explain", "--out", str(locked / "x.png")]) == 2
    assert "no permission to write there" in capsys.readouterr().err


def test_a_failed_write_leaves_no_partial_file(folder, capsys, monkeypatch):
    from matplotlib.figure import Figure

    def fails_half_way(self, path, **kwargs):
        with open(path, "wb") as half:
            half.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", fails_half_way)
    assert main(["explain", "--out", "figure.png"]) == 2
    assert "disk full" in capsys.readouterr().err
    assert [name for name in os.listdir(folder) if "figure" in name] == []


def test_a_users_own_model_with_class_names_and_a_target_by_name(folder, capsys):
    Image.fromarray(np.full((50, 70, 3), (200, 40, 40), np.uint8)).save("red.png")
    code = main(
        [
            "explain",
            "red.png",
            "--model",
            "mymodels:build",
            "--classes",
            "four.txt",
            "--target",
            "cat",
            "--out",
            "red-out.png",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.splitlines()[0] == "mymodels:build on red, top 4:"
    assert "explained: cat (class 2, " in printed
    figure = np.asarray(Image.open(folder / "red-out.png"))
    assert figure.shape[1] > 2 * figure.shape[0]


def test_a_torchvision_model_with_random_weights_needs_no_download(folder, capsys):
    assert main(["explain", "--model", "resnet18", "--weights", "none", "--out", "r.png"]) == 0
    assert "resnet18 on chelsea, top 5:" in capsys.readouterr().out
    assert (folder / "r.png").stat().st_size > 10_000


def test_help_lists_the_model_names(capsys):
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "efficientnet_lite0 (the default, offline)" in shown
    assert "resnet18" in shown and "vgg16" in shown and "package.module:function" in shown
