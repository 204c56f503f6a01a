"""The Explorer is made from its state table: the same traits, the same controls, each
control driving its trait; and it is light and leaves nothing open when closed."""

import warnings
from dataclasses import replace

import ipywidgets as widgets
import numpy as np
import pytest
import torch
import traitlets
from ipywidgets.embed import dependency_state

from gbp_widgets import Explorer
from gbp_widgets.explore import (
    STATE,
    Ahead,
    Control,
    Effect,
    Line,
    Place,
    Row,
    Steps,
    Value,
    Widget,
)
from gbp_widgets.explore.ahead import AHEAD_TRAITS
from tests import page
from tests.kinds import PulseNet, built
from tests.test_picture_canvas import Screen


@pytest.fixture(scope="module")
def explorer():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Explorer()


def test_traits_controls_and_rows_are_the_same_set(explorer):
    own = set(explorer.trait_names()) - set(widgets.VBox().trait_names()) - {"message"}
    assert own == set(STATE)
    assert set(explorer.controls.bound) == {name for name, row in STATE.items() if row.controls}
    for name, controls in explorer.controls.bound.items():
        named = [getattr(explorer.controls, spec.name) for spec in STATE[name].controls]
        assert list(controls) == named, name
    assert set(AHEAD_TRAITS) == {name for name, row in STATE.items() if row.ahead}
    for name, row in STATE.items():
        assert getattr(Explorer, name).help == row.help, name
        assert isinstance(row.effect, Effect)


def test_every_shown_control_sets_its_trait_as_a_person_would(explorer):
    tried = []
    for name, controls in explorer.controls.bound.items():
        for control in controls:
            if control.layout.display == "none":
                continue
            if isinstance(control, (widgets.Dropdown, widgets.ToggleButtons)):
                others = [v for _, v in control.options if v != getattr(explorer, name)]
                if not others:
                    continue
                value = others[-1]
            elif isinstance(control, widgets.IntSlider):
                if control.max == control.min:
                    continue
                value = control.max
            else:
                value = {"percentile": 95.0, "target": 5, "compare": True, "grid_size": 32}[name]
            page.choose(control, value)
            assert getattr(explorer, name) == value, name
            assert explorer.message == "", (name, explorer.message)
            tried.append(name)
    assert {"rule", "display", "percentile", "site", "channel", "target", "compare"} <= set(tried)
    assert explorer.refresh()["attribution"].shape == (224, 224, 4)


def test_an_explorer_is_at_most_80_widget_models_in_a_saved_notebook(explorer):
    # What a notebook saves for a displayed widget: its model and every model it uses.
    assert len(dependency_state(explorer)) <= 80


def test_close_leaves_no_widget_model_open_of_all_it_made():
    made = []
    widgets.Widget.on_widget_constructed(made.append)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explorer = Explorer(panel_size=64)
        explorer.tabs.selected_index = 1  # the sanity tab, made when opened, is closed too
        explorer.compare, explorer.rule = True, "gradcam"
        explorer.refresh()
    finally:
        widgets.Widget.on_widget_constructed(None)
    assert explorer.sanity.run_button in made and len(made) > 80
    explorer.close()
    assert [type(w).__name__ for w in made if w.comm is not None] == []


# A throwaway trait, as a newcomer would add one: a float slider whose value sets the clip
# percentile (90 + 9 x its value) after the clip slider's own.
CONTRAST = Row(
    default=1.0,
    help="a throwaway: the clip percentile is 90 + 9 x this",
    value=Value.NUMBER,
    effect=Effect.RENDER,
    check=lambda session, state, value: (
        "" if 0.0 <= value <= 1.0 else f"contrast {value} must be between 0 and 1"
    ),
    controls=(Control("contrast", Widget.NUMBER_SLIDER, Place(Line.DISPLAY, 2), "contrast"),),
    bounds=(0.0, 1.0, 0.05),
    to_view=lambda session, view, value: replace(view, percentile=90.0 + 9.0 * value),
    ahead=Ahead(Steps.KEYS),
)


def test_a_row_added_to_a_copy_of_the_table_is_laid_out_checked_and_drawn_ahead(screens):
    table = STATE.with_row("contrast", CONTRAST, after="percentile")
    assert "contrast" not in STATE, "the copy, not the package's table"
    torch.manual_seed(0)
    explorer = Explorer.with_table(table)(model=built(PulseNet(2)), inputs=torch.randn(2, 2, 48))
    control = explorer.controls.contrast
    display = explorer.controls.widget.children[
        [line for line, _ in explorer.controls.lines].index(Line.DISPLAY)
    ]
    assert list(display.children) == [
        explorer.controls.display,
        explorer.controls.percentile,
        control,
    ]
    with pytest.raises(traitlets.TraitError, match="contrast 2.0 must be between 0 and 1"):
        explorer.contrast = 2.0
    assert explorer.contrast == 1.0 and control.value == 1.0
    explorer.draw_ahead()
    strip = explorer.rows[0]
    sent = screens[id(strip.canvas)].ahead
    ahead = {tuple(ahead["when"][0]): (ahead, buffers) for ahead, buffers in sent}
    when = (control.model_id, "value", 0.95)
    assert when in ahead, "one arrow key down on the new slider is drawn ahead"
    before = screens[id(strip.canvas)].pixels.copy()
    shown = Screen()
    shown.pixels = before.copy()
    sent, buffers = ahead[when]
    size = [shown.pixels.shape[1], shown.pixels.shape[0]]
    shown.receive({"size": size, "clear": False, "puts": sent["puts"]}, buffers)
    page.choose(control, 0.95)
    explorer.refresh()
    assert explorer.contrast == 0.95 and explorer.view().percentile == pytest.approx(98.55)
    np.testing.assert_array_equal(screens[id(strip.canvas)].pixels, shown.pixels)
    assert not np.array_equal(shown.pixels, before), "the new trait changed no picture"
