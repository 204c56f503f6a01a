"""The Explorer is made from its state table: the same traits, the same controls, each
control driving its trait; and it is light and leaves nothing open when closed."""

import warnings

import ipywidgets as widgets
import pytest
from ipywidgets.embed import dependency_state

from gbp_widgets import Explorer
from gbp_widgets.explore import STATE, Effect
from gbp_widgets.explore.ahead import AHEAD_TRAITS
from tests import page


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
                value = {"percentile": 95.0, "target": 5, "compare": True}[name]
            page.choose(control, value)
            assert getattr(explorer, name) == value, name
            assert explorer.message == "", (name, explorer.message)
            tried.append(name)
    assert {"rule", "display", "percentile", "site", "channel", "target", "compare"} <= set(tried)
    assert explorer.refresh()["attribution"].shape == (224, 224, 4)


def test_an_explorer_is_at_most_80_widget_models_in_a_saved_notebook(explorer):
    # What a notebook saves for a displayed widget: its model and every model it uses.
    assert len(dependency_state(explorer)) <= 80


def test_close_closes_every_widget_it_made():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explorer = Explorer(panel_size=64)
    explorer.tabs.selected_index = 1  # the sanity tab, made when opened, is closed too
    assert explorer.sanity.run_button.comm is not None
    made = _reachable(explorer)
    assert len(made) == len(dependency_state(explorer)) > 50
    explorer.close()
    assert [w for w in made if w.comm is not None] == []


def _reachable(widget: widgets.Widget, found: dict | None = None) -> list[widgets.Widget]:
    """Every widget model ``widget`` holds, through any trait, and itself."""
    found = {} if found is None else found
    found[widget.model_id] = widget
    for name in widget.keys:
        value = getattr(widget, name)
        for part in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(part, widgets.Widget) and part.model_id not in found:
                _reachable(part, found)
    return list(found.values())
