"""Bad values for the Explorer's traits, as a table: each is answered in the status line, the
trait keeps its value, the pictures stay, and the model is left as it was.

Values that mean something (a class name, a picture's path) are taken."""

import warnings

import numpy as np
import pytest
from PIL import Image

from gbp_widgets import Explorer
from tests.fingerprint import assert_same, snapshot

# (trait, value, message fragment)
REFUSED = [
    ("rule", "bogus", "unknown rule 'bogus'"),
    ("target_kind", "bogus", "unknown target kind 'bogus'"),
    ("target", 1000, "class 1000 is out of range"),
    ("target", "tigr", "classes; did you mean 'tiger'"),
    ("display", "x", "unknown display 'x'"),
    ("percentile", 150.0, "between 90 and 100"),
    ("site", 10**6, "site 1000000 is out of range"),
    ("channel", -5, "channel -5 is out of range"),
    ("unit", ("a", "b"), "unit must be a tuple of whole numbers"),
    ("unit", (10**6, 5), "(1000000, 5) is not a position"),
    ("layer", "_fc", "'_fc' is a Linear, which gives no feature map"),
    ("layer", "nope", "no module called 'nope'"),
    ("image", "/nonexistent/photo.png", "does not exist, and it is not a sample image"),
]


@pytest.fixture(scope="module")
def explorer():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Explorer()


@pytest.mark.parametrize(
    "name, value, fragment", REFUSED, ids=[f"{n}={v!r}" for n, v, _ in REFUSED]
)
def test_a_bad_value_is_answered_and_changes_nothing(explorer, name, value, fragment):
    before = snapshot(explorer.session.engine.model)
    kept = getattr(explorer, name)
    panels = {key: picture.copy() for key, picture in explorer.panels.items()}
    setattr(explorer, name, value)
    assert fragment in explorer.message
    assert getattr(explorer, name) == kept
    assert explorer.panels.keys() == panels.keys()
    for key, picture in panels.items():
        assert np.array_equal(explorer.panels[key], picture), key
    assert_same(before, snapshot(explorer.session.engine.model))


def test_a_class_name_is_taken_as_its_index_from_code_and_at_construction(explorer):
    explorer.target = "tiger cat"
    assert explorer.target == explorer.session.classes.index("tiger cat")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert Explorer(target="tabby").target == explorer.session.classes.index("tabby")
    with pytest.raises(ValueError, match="target='tabbby': no class called 'tabbby'.*'tabby'"):
        Explorer(target="tabbby")


def test_a_pictures_path_is_shown_and_listed_as_custom(explorer, tmp_path):
    ramp = np.tile(np.linspace(0, 255, 60, dtype=np.uint8), (40, 1))
    path = tmp_path / "ramp.png"
    Image.fromarray(np.stack([ramp] * 3, -1)).save(path)
    shown = explorer.panels["input"].copy()
    explorer.image = str(path)
    assert explorer.image == "custom"
    assert not np.array_equal(explorer.panels["input"], shown)
    # The input panel is the ramp (its middle, as the model's centre crop sees it): darker
    # on the left, lighter on the right, the same all down a column.
    picture = explorer.panels["input"][..., :3].astype(int)
    assert picture[:, 5].mean() + 100 < picture[:, -5].mean()
    assert (picture[:, 5] == picture[0, 5]).all()
    explorer.image = "chelsea"


def test_an_unknown_sample_at_construction_names_the_samples():
    with pytest.raises(FileNotFoundError, match="not a sample image either.*chelsea, coffee"):
        Explorer(image="nosuchsample")
