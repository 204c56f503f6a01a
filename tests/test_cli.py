"""The headless main job."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gbp_widgets import GuidedBackpropWarning
from gbp_widgets.cli import main


def test_explain_a_sample_writes_a_figure_and_prints_the_top_classes(tmp_path, capsys):
    out = tmp_path / "coffee.png"
    assert main(["explain", "--sample", "coffee", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    lines = printed.splitlines()
    assert lines[0] == "efficientnet_lite0 on coffee, top 5:"
    assert lines[1].startswith("  1. espresso") and "%  (class 967)" in lines[1]
    assert len([line for line in lines if line.startswith("  ")]) == 5
    assert lines[6].startswith("explained: espresso (class 967, ")
    figure = np.asarray(Image.open(out))
    assert figure.shape[1] > 5 * figure.shape[0] / 2  # one wide row of six panels
    assert figure.std() > 10


def test_the_figure_has_a_grad_cam_heat_map_panel(tmp_path, monkeypatch):
    from gbp_widgets import cli

    shown = {}
    keyed = {}

    def figure(panels, title, note, keys):
        shown.update(panels)
        keyed.update(keys)
        return _Saved()

    monkeypatch.setattr(cli, "panel_figure", figure)
    main(["explain", "--sample", "chelsea", "--out", str(tmp_path / "x.png")])
    names = list(shown)
    # Every map has its colour key: grey 0 for the signed maps, the heat map's ramp.
    assert set(keyed) == set(names) - {"input"}
    assert keyed["Guided Grad-CAM"].words == ("-p99", "0 (each of R, G, B)", "+p99")
    assert names[0] == "input" and names[-1] == "Guided Grad-CAM"
    heat = next(shown[n] for n in names if n.startswith("Grad-CAM ("))
    assert heat.shape[2] in (3, 4) and heat[..., :3].std() > 10


class _Saved:
    def savefig(self, path, **kwargs):
        Path(path).write_bytes(b"")


def test_explain_a_file_with_a_target(tmp_path, capsys):
    picture = tmp_path / "photo.jpg"
    Image.new("RGB", (300, 200), (30, 140, 60)).save(picture)
    out = tmp_path / "photo-out.png"
    assert main(["explain", str(picture), "--target", "281", "--out", str(out)]) == 0
    assert out.exists()
    assert "explained: tabby (class 281, " in capsys.readouterr().out


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


def test_gated_activations_reach_the_figure_and_say_what_they_are(tmp_path, monkeypatch):
    from gbp_widgets import cli

    seen = {}

    def figure(panels, title, note, keys):
        seen[len(seen)] = (title, panels["Guided"])
        return _Saved()

    monkeypatch.setattr(cli, "panel_figure", figure)
    common = ["explain", "--sample", "rocket", "--model", "mobilenet_v3_small", "--weights", "none"]
    with pytest.warns(GuidedBackpropWarning, match="hardswish .* activations='gated'"):
        assert main([*common, "--out", str(tmp_path / "a.png")]) == 0
    # With gates only the squeeze-excite blocks' hard sigmoids are left out.
    with pytest.warns(GuidedBackpropWarning, match=r"plain gradients: hardsigmoid \(9 calls\)"):
        assert main([*common, "--activations", "gated", "--out", str(tmp_path / "b.png")]) == 0
    (plain_title, plain), (gated_title, gated) = seen[0], seen[1]
    assert "our extension of the published method" in gated_title
    assert "extension" not in plain_title
    assert not np.array_equal(plain, gated)


def test_unknown_activations_exit_2_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "x.png"
    assert main(["explain", "--sample", "coffee", "--activations", "swish", "--out", str(out)]) == 2
    assert "unknown activations 'swish': use 'relu'" in capsys.readouterr().err
    assert not out.exists()
