"""Pictures sent ahead are the pictures the kernel then draws for that control's value.

Every canvas's messages are replayed on ``Screen`` (tests/test_picture_canvas.py). For
each set of pictures ahead, the control is then moved to its value, as from the browser,
and the screen after the kernel's redraw must equal the screen with the pictures ahead
drawn: a picture ahead never shows something the Explorer does not.
"""

import copy
import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch

from gbp_widgets import Explorer
from gbp_widgets.explore import ALL_CHANNELS
from gbp_widgets.explore.ahead import moved_view, neighbours, numbers_near
from tests.kinds import PulseNet, TinySegmenter, VolumeNet, built
from tests.test_picture_canvas import Screen


def _explorer(kind: str) -> Explorer:
    torch.manual_seed(0)
    if kind == "signal":
        model = built(PulseNet(2))
        # Items 0 and 1 are put in different classes: a new item moves the target.
        return Explorer(model=model, inputs=-torch.randn(3, 2, 48), site=1)
    if kind == "segmentation":
        return Explorer(model=built(TinySegmenter()), inputs=torch.randn(2, 3, 16, 16))
    return Explorer(model=built(VolumeNet()), inputs=torch.randn(2, 1, 8, 10, 12))


def _control_of(explorer: Explorer, model_id: str):
    controls = explorer.controls
    for name in vars(controls):
        control = getattr(controls, name)
        if getattr(control, "model_id", None) == model_id:
            return control
    raise AssertionError(f"no control has model id {model_id}")


def _move(control, attribute: str, value) -> None:
    """Set a control as its browser model does: by option index or by value."""
    if attribute == "index":
        control.index = value
    else:
        control.value = value


def _rows(explorer: Explorer, screens: dict[int, Screen]) -> list[Screen]:
    return [screens[id(strip.canvas)] for strip in explorer.rows]


def _sent(explorer: Explorer, screens: dict[int, Screen]) -> list[dict]:
    """Every set of pictures ahead the rows were sent, without their bytes."""
    return [ahead for screen in _rows(explorer, screens) for ahead, _ in screen.ahead]


EVERY_STEP = {"display", "percentile", "site", "channel", "rule", "target", "item"}


@pytest.mark.parametrize(
    ("kind", "chosen", "drawn_ahead"),
    [
        ("signal", {}, EVERY_STEP),
        ("segmentation", {}, EVERY_STEP),
        ("volume", {}, EVERY_STEP | {"slice"}),
        # A channel the next site lacks (that site shows all) and one it has (kept).
        ("volume", {"site": 1, "channel": 5}, EVERY_STEP | {"slice"}),
        ("volume", {"site": 1, "channel": 2}, EVERY_STEP | {"slice"}),
        # A channel target moves with the site and channel, and is not a class.
        ("signal", {"target_kind": "channel"}, {"display", "percentile", "rule"}),
    ],
)
def test_each_picture_ahead_is_what_the_kernel_then_draws(kind, chosen, drawn_ahead, screens):
    explorer = _explorer(kind)
    for name, value in chosen.items():
        setattr(explorer, name, value)
    explorer.draw_ahead()
    sets = [list(screen.ahead) for screen in _rows(explorer, screens)]
    whens = {tuple(map(tuple, ahead["when"])) for row in sets for ahead, _ in row}
    traits = {_trait_of(explorer, when[0][0]) for when in whens}
    assert traits == drawn_ahead
    start = copy.deepcopy([s.pixels for s in _rows(explorer, screens)])
    # The item first: a new item chooses its own top class as the target.
    names = ("item", "display", "percentile", "site", "channel", "slice", "rule", "target")
    state = {name: getattr(explorer, name) for name in names}
    for when in whens:
        model_id, attribute, value = when[0]
        expected = []
        for row, pixels in zip(sets, start, strict=True):
            shown = Screen()
            shown.pixels = pixels.copy()
            for ahead, buffers in row:
                if tuple(map(tuple, ahead["when"])) == when:
                    shown.receive(
                        {
                            "size": [pixels.shape[1], pixels.shape[0]],
                            "clear": False,
                            "puts": ahead["puts"],
                        },
                        buffers,
                    )
            expected.append(shown.pixels)
        _move(_control_of(explorer, model_id), attribute, value)
        explorer.refresh()
        for screen, pixels in zip(_rows(explorer, screens), expected, strict=True):
            np.testing.assert_array_equal(screen.pixels, pixels, err_msg=f"{when}")
        for name, old in state.items():
            setattr(explorer, name, old)
        explorer.refresh()


def _trait_of(explorer: Explorer, model_id: str) -> str:
    control = _control_of(explorer, model_id)
    names = {"display": "display", "percentile": "percentile", "site_slider": "site"}
    names |= {"site_name": "site", "channel": "channel", "slice": "slice", "rule": "rule"}
    names |= {"top": "target", "class_index": "target", "item": "item"}
    for attribute, trait in names.items():
        if getattr(explorer.controls, attribute) is control:
            return trait
    raise AssertionError(f"a picture ahead for a control that is not drawn ahead: {control}")


def test_a_new_request_drops_the_pictures_not_yet_made(screens):
    explorer = _explorer("signal")
    assert explorer.ahead.pending, "nothing was queued after the first draw"
    c = explorer.controls
    c.display.index = 1 - c.display.index  # before any picture ahead was made
    explorer.draw_ahead()
    sent = _sent(explorer, screens)
    assert sent
    for ahead in sent:
        assert [c.display.model_id, "index", c.display.index] in map(list, ahead["watch"])


def test_pictures_ahead_name_every_control_that_changes_the_picture(screens):
    explorer = _explorer("segmentation")
    explorer.draw_ahead()
    (ahead, _), *_ = _rows(explorer, screens)[0].ahead
    watched = {model_id for model_id, _, _ in ahead["watch"]}
    c = explorer.controls
    for control in (c.rule, c.display, c.percentile, c.site_slider, c.channel, c.item, c.top):
        assert control.model_id in watched, control


def test_neighbours_and_slider_steps_stay_inside_their_choices():
    assert neighbours("b", ["a", "b", "c"]) == ["a", "c"]
    assert neighbours("a", ["a", "b"]) == ["b"]
    assert neighbours("z", ["a", "b"]) == []
    assert numbers_near(99.0, 90.0, 100.0, (0.1, 0.5)) == [98.9, 99.1, 98.5, 99.5]
    assert numbers_near(100.0, 90.0, 100.0, (0.1, 0.5)) == [99.9, 99.5]


def test_a_site_ahead_keeps_the_channel_only_where_the_site_has_it():
    explorer = _explorer("volume")
    session = explorer.session
    assert [session.channels(site) for site in (0, 1)] == [4, 6]
    view = replace(explorer.view(), site=1)
    assert moved_view(session, replace(view, channel=5), "site", 0).channel == ALL_CHANNELS
    assert moved_view(session, replace(view, channel=2), "site", 0).channel == 2


def test_steps_needing_a_new_pass_are_drawn_ahead_only_while_a_pass_is_quick(screens):
    explorer = _explorer("signal")
    threads = torch.get_num_threads()
    # As if a backward pass had taken a second: another rule, class or item is not worth
    # holding the kernel for.
    explorer.session.pass_seconds = 1.0
    explorer.draw_ahead()
    sent = _sent(explorer, screens)
    traits = {_trait_of(explorer, ahead["when"][0][0]) for ahead in sent}
    assert traits == {"display", "percentile", "site", "channel"}
    assert torch.get_num_threads() == threads, "the pictures ahead left torch on one thread"
    # A rule whose pass is made costs a render only: drawn ahead however slow passes are.
    explorer.session.result(explorer.view().target, "gradient")
    explorer.session.pass_seconds = 1.0
    for screen in _rows(explorer, screens):
        screen.ahead.clear()
    explorer.draw_ahead()
    sent = _sent(explorer, screens)
    rules = [ahead["when"] for ahead in sent if _trait_of(explorer, ahead["when"][0][0]) == "rule"]
    c = explorer.controls
    assert rules and all(list(map(list, when)) == [[c.rule.model_id, "index", 0]] for when in rules)


def test_rules_and_classes_with_a_pass_made_come_first_and_cost_no_pass(monkeypatch):
    from gbp_widgets.explore.ahead import pictures_ahead

    explorer = _explorer("segmentation")  # three classes
    session, view = explorer.session, explorer.view()
    classes = [k for k in range(len(session.classes)) if k != explorer.target]
    session.result(view.target, "gradient")  # one other rule's pass made, and one class's
    session.result(session.class_target(classes[1]), view.rule)
    candidates = {
        "percentile": [98.0],
        "channel": [0],
        "display": ["saliency"],
        "rule": ["deconvnet", "gradient"],
        "target": classes[:2],
        "item": [1],
    }
    order = [
        (name, value)
        for name, value, _ in pictures_ahead(
            session, view, {"target_kind": "class"}, candidates, 32
        )
    ]
    assert order == [
        ("display", "saliency"),
        ("rule", "gradient"),
        ("target", classes[1]),
        ("percentile", 98.0),
        ("channel", 0),
        # Those that need a pass, taking turns.
        ("rule", "deconvnet"),
        ("target", classes[0]),
        ("item", 1),
    ]

    def no_pass(*args):
        raise AssertionError("a picture said to be ready ran a backward pass")

    monkeypatch.setattr(session.recording, "backprop", no_pass)
    for _, _, make in itertools.islice(
        pictures_ahead(session, view, {"target_kind": "class"}, candidates, 32), 5
    ):
        assert make()["attribution"].shape == (32, 32, 4)
