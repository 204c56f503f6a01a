"""The headless main job."""

import subprocess
import sys

import numpy as np
from PIL import Image

from gbp_widgets.cli import main


def test_explain_a_sample_writes_a_figure(tmp_path, capsys):
    out = tmp_path / "chelsea.png"
    assert main(["explain", "--sample", "chelsea", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    figure = np.asarray(Image.open(out))
    assert figure.shape[1] > 4 * figure.shape[0] / 2  # one wide row of five panels
    assert figure.std() > 10


def test_explain_a_file_with_a_target(tmp_path, capsys):
    picture = tmp_path / "photo.jpg"
    Image.new("RGB", (300, 200), (30, 140, 60)).save(picture)
    out = tmp_path / "photo-out.png"
    assert main(["explain", str(picture), "--target", "281", "--out", str(out)]) == 0
    assert out.exists()


def test_errors_are_one_line_and_exit_2(tmp_path, capsys):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a picture")
    assert main(["explain", str(junk), "--out", str(tmp_path / "x.png")]) == 2
    assert "not an image file" in capsys.readouterr().err
    assert main(["explain", "--sample", "coffee", "--target", "5000"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_module_entry_point_refuses_image_and_sample_together(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "gbp_widgets.cli", "explain", "x.png", "--sample", "rocket"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 2 and "not both" in run.stderr
