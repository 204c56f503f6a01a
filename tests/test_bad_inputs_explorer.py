"""Bad values for the Explorer's traits, as tables, both ways a value arrives.

From code every trait refuses with ``traitlets.TraitError`` carrying the message; from a
control the message goes to the status line and the control goes back. Either way the
trait keeps its value, the pictures stay, and the model is left as it was. Values that
mean something (a class name, a picture's path) are taken."""

import re
import warnings

import numpy as np
import pytest
import traitlets
from PIL import Image

from gbp_widgets import Explorer, Region
from gbp_widgets.explore import STATE
from tests import page
from tests.fingerprint import assert_same, snapshot

# (trait, value, message fragment): one row at least for every trait of the state table.
REFUSED = [
    ("image", "/nonexistent/photo.png", "does not exist, and it is not a sample image"),
    ("image", 3, "expected a unicode string"),
    ("model_name", "alexnet9", "no model 'alexnet9'"),
    ("activations", "swish", "unknown activations 'swish': use 'relu'"),
    ("layer", "_fc", "'_fc' is a Linear, which gives no feature map"),
    ("layer", "nope", "no module called 'nope'"),
    ("item", 1, "item 1 is out of range: there are 1 items"),
    ("input_index", 2, "the model takes 1 inputs"),
    ("axis", 1, "volumes are cut along axis 0, 1 or 2"),
    ("slice", 3, "only volumes are sliced"),
    ("score_threshold", 1.5, "between 0 and 1"),
    ("target_kind", "bogus", "unknown target kind 'bogus'"),
    ("target_kind", "region", "target kind 'region' does not fit this model"),
    ("rule", "bogus", "unknown rule 'bogus'"),
    ("display", "x", "unknown display 'x'"),
    ("percentile", 150.0, "between 90 and 100"),
    ("site", 10**6, "site 1000000 is out of range"),
    ("channel", -5, "channel -5 is out of range"),
    ("target", 1000, "class 1000 is out of range"),
    ("target", "tigr", "classes; did you mean 'tiger'"),
    ("unit", ("a", "b"), "unit must be a tuple of whole numbers"),
    ("unit", (10**6, 5), "(1000000, 5) is not a position"),
    ("region", Region(3), "regions are for outputs with positions"),
    ("detection", 0, "detections are for torchvision detectors"),
    ("compare", "yes", "'compare' trait"),
    ("webcam", "yes", "'webcam' trait"),
    ("freeze", "yes", "'freeze' trait"),
    ("follow_top", "yes", "'follow_top' trait"),
    ("text", "hello", "text is for token models: give the Explorer a tokenizer="),
    ("grid_size", 0, "a grid shows 1 channel or more"),
    ("grid_size", 10**6, "no site here has more than 1280 to show"),
]

# (control, value a person can give it, message fragment, trait)
REFUSED_BY_CONTROLS = [
    ("class_index", 1000, "class 1000 is out of range", "target"),
    ("layer", "_blocks", "did not return a (N, C, H, W) tensor", "layer"),
]


@pytest.fixture(scope="module")
def explorer():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Explorer()


def test_every_trait_has_a_refused_value_in_the_table():
    assert {name for name, _, _ in REFUSED} == set(STATE)


def unchanged(explorer):
    """A check that nothing the Explorer shows or holds moved since it was made."""
    before = snapshot(explorer.session.engine.model)
    state = {name: getattr(explorer, name) for name in STATE}
    panels = {key: picture.copy() for key, picture in explorer.refresh().items()}

    def check() -> None:
        assert {name: getattr(explorer, name) for name in STATE} == state
        assert explorer.refresh().keys() == panels.keys()
        for key, picture in panels.items():
            assert np.array_equal(explorer.panels[key], picture), key
        assert_same(before, snapshot(explorer.session.engine.model))

    return check


@pytest.mark.parametrize(
    "name, value, fragment", REFUSED, ids=[f"{n}={v!r}" for n, v, _ in REFUSED]
)
def test_a_bad_value_from_code_raises_and_changes_nothing(explorer, name, value, fragment):
    check = unchanged(explorer)
    with pytest.raises(traitlets.TraitError, match=re.escape(fragment)):
        setattr(explorer, name, value)
    check()


@pytest.mark.parametrize(
    "control, value, fragment, name",
    REFUSED_BY_CONTROLS,
    ids=[f"{c}={v!r}" for c, v, _, _ in REFUSED_BY_CONTROLS],
)
def test_a_bad_value_from_a_control_is_answered_and_the_control_put_back(
    explorer, control, value, fragment, name
):
    check = unchanged(explorer)
    widget = getattr(explorer.controls, control)
    page.choose(widget, value)
    assert fragment in explorer.message and fragment in explorer.status.value
    assert widget.value == getattr(explorer, name)
    check()
    explorer.rule = "gradient"
    assert explorer.message == "", "the next action clears the message"
    explorer.rule = "guided"


def test_an_unknown_class_name_typed_in_the_box_is_answered_and_the_box_put_back(explorer):
    check = unchanged(explorer)
    box = explorer.controls.class_name
    page.choose(box, "tigr")
    assert "did you mean 'tiger'" in explorer.message
    assert box.value == explorer.session.class_name(explorer.target)
    check()


def test_a_class_name_is_taken_as_its_index_from_code_and_at_construction(explorer):
    explorer.target = "tiger cat"
    assert explorer.target == explorer.session.classes.index("tiger cat")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert Explorer(target="tabby").target == explorer.session.classes.index("tabby")
    with pytest.raises(ValueError, match="target='tabbby': no class called 'tabbby'.*'tabby'"):
        Explorer(target="tabbby")


def test_the_constructor_names_the_argument_it_refuses():
    with pytest.raises(ValueError, match=r"^rule='lrp': unknown rule 'lrp'"):
        Explorer(rule="lrp")
    with pytest.raises(TypeError, match="unexpected arguments: colour"):
        Explorer(colour="red")


def test_a_pictures_path_is_shown_and_listed_as_custom(explorer, tmp_path):
    ramp = np.tile(np.linspace(0, 255, 60, dtype=np.uint8), (40, 1))
    path = tmp_path / "ramp.png"
    Image.fromarray(np.stack([ramp] * 3, -1)).save(path)
    shown = explorer.panels["input"].copy()
    explorer.image = str(path)
    assert explorer.image == "custom" and explorer.controls.image.value == "custom"
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
