"""The webcam as the page drives it, without a browser: the webcam bar's toggles and the
camera's frames arrive as the same comm messages a page sends (tests/page.py). Each frame
is the input, explained for its top class and drawn before the page is told to send the
next; freeze holds one; bad frames, refused cameras and models without pictures are said
in the status line and change nothing else."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch
from torch import nn

from gbp_widgets import DEFAULT_MODEL, Explorer, GuidedBackprop, load_model, sample_image
from gbp_widgets.explore.stream import FrameRate, frame_picture
from gbp_widgets.threads import cores_allowed
from tests import page

# The fast subset leaves this out: the default model explains frame after frame.
pytestmark = pytest.mark.slow

# The default model's own normalisation constants (EfficientNet-Lite's, not ImageNet's).
PREPROCESS = load_model(DEFAULT_MODEL).preprocess
MEAN, STD = np.array(PREPROCESS.mean), np.array(PREPROCESS.std)


def frame_of(name: str) -> tuple[np.ndarray, bytes]:
    """A sample photo squashed to 224 x 224 as the page's camera would send it: RGB and
    the RGBA bytes."""
    rgb = np.asarray(sample_image(name).convert("RGB").resize((224, 224)), dtype=np.uint8)
    alpha = np.full((224, 224, 1), 255, np.uint8)
    return rgb, np.concatenate([rgb, alpha], axis=2).tobytes()


def model_ready(rgb: np.ndarray) -> torch.Tensor:
    """The model's normalisation written out: (1, 3, 224, 224)."""
    values = (rgb.astype(np.float64) / 255.0 - MEAN) / STD
    return torch.from_numpy(values.transpose(2, 0, 1)[None]).float()


@pytest.fixture
def streaming():
    """An Explorer on the default model with its webcam switched on from the page, and
    the answers it sends the page's camera."""
    # Frames are explained on a thread fewer than the cores; one thread throughout makes
    # the maps computed here to compare with them add up in the same order.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    explorer = Explorer()
    camera = explorer.controls.camera
    answers: list[dict] = []
    # The page's side of the comm: what the kernel sends the camera is recorded.
    camera.send = lambda content, buffers=None: answers.append(content)
    page.update(camera, active=True)
    page.update(camera, state="on")
    yield explorer, camera, answers
    explorer.close()
    torch.set_num_threads(threads)


def test_a_click_on_webcam_opens_the_camera_for_the_models_input_size(streaming):
    explorer, camera, _ = streaming
    assert explorer.webcam and camera.active and camera.size == 224
    assert explorer.message == ""


def test_each_frame_is_explained_for_its_top_class_and_drawn_before_the_next_is_asked(
    streaming,
):
    explorer, camera, answers = streaming
    model = explorer.session.engine.model
    for frame_id, name in enumerate(["chelsea", "coffee"], start=1):
        rgb, rgba = frame_of(name)
        page.frame(camera, frame_id, rgba)
        assert answers[-1] == {"done": frame_id, "drawn": True}
        inputs = model_ready(rgb)
        assert torch.allclose(explorer.inputs, inputs, atol=1e-6)
        with torch.no_grad():
            probabilities = torch.softmax(model(explorer.inputs), dim=1)[0]
        top = int(probabilities.argmax())
        assert explorer.target == top
        name, percent = explorer.classes[top], round(100 * float(probabilities[top]))
        assert explorer.rows[0].captions["input"] == f"webcam: {name} {percent}%"
        # The map of the input shown (equal to ours to rounding, and a rounding can flip
        # a ReLU6 mask deep in the network).
        expected = GuidedBackprop(model).explain(explorer.inputs, top).attribution
        assert torch.equal(explorer.explanation.attribution, expected)
        assert np.array_equal(explorer.panels["input"][..., :3], rgb)
    # A tabby cat, then a cup of coffee: the class followed the frames.
    assert explorer.classes[explorer.target] == "espresso"
    assert explorer.image == "custom"


def test_in_a_kernel_a_frame_waits_its_turn_behind_messages_that_came_before_it(streaming):
    """In a kernel the page's next frame is on its way while one is explained; a rule
    chosen meanwhile applies to that next frame, and a frame overtaken before its turn
    is answered as dropped, so the page sends another."""
    explorer, camera, answers = streaming
    deadline = 120.0

    async def both_answered():
        while len(answers) < 2:
            await asyncio.sleep(0.01)

    async def the_page():
        page.frame(camera, 1, frame_of("chelsea")[1])
        page.frame(camera, 2, frame_of("coffee")[1])
        page.choose(explorer.controls.rule, "gradient")
        assert answers == [{"done": 1, "drawn": False}]  # frame 2's turn has not come yet
        await asyncio.wait_for(both_answered(), deadline)

    asyncio.run(the_page())
    assert answers == [{"done": 1, "drawn": False}, {"done": 2, "drawn": True}]
    assert explorer.classes[explorer.target] == "espresso"
    assert explorer.explanation.rule == "gradient"
    expected = GuidedBackprop(explorer.session.engine.model).explain(
        explorer.inputs, explorer.target, rule="gradient"
    )
    assert torch.equal(explorer.explanation.attribution, expected.attribution)


def test_a_frame_is_explained_on_a_thread_fewer_than_the_cores_and_then_all_come_back(
    streaming,
):
    explorer, camera, answers = streaming
    cores = cores_allowed()
    seen: list[int] = []
    hook = explorer.session.engine.model.register_forward_pre_hook(
        lambda module, args: seen.append(torch.get_num_threads())
    )
    try:
        torch.set_num_threads(cores)
        page.frame(camera, 1, frame_of("coffee")[1])
        assert answers[-1] == {"done": 1, "drawn": True}
        assert seen and set(seen) == {max(1, cores - 1)}
        assert torch.get_num_threads() == cores
    finally:
        hook.remove()


def test_with_top_class_off_the_class_chosen_stays(streaming):
    explorer, camera, answers = streaming
    page.update(camera, follow=False)
    assert explorer.follow_top is False
    explorer.target = 7
    page.frame(camera, 1, frame_of("coffee")[1])
    assert answers[-1] == {"done": 1, "drawn": True} and explorer.target == 7


def test_freeze_holds_the_frame_and_f_on_a_canvas_lets_frames_come_again(streaming):
    explorer, camera, answers = streaming
    cat, cat_bytes = frame_of("chelsea")
    page.frame(camera, 1, cat_bytes)
    page.press(explorer.rows[0], "f")
    assert explorer.freeze and camera.paused
    held = explorer.refresh()["input"].copy()
    page.frame(camera, 2, frame_of("coffee")[1])
    assert answers[-1] == {"done": 2, "drawn": False}
    assert np.array_equal(explorer.refresh()["input"], held)
    # Frozen, the frame is an input like an uploaded photo: the rules still change.
    explorer.rule = "gradient"
    assert explorer.explanation.rule == "gradient"
    page.press(explorer.rows[0], "f")
    assert not explorer.freeze and not camera.paused
    page.frame(camera, 3, frame_of("coffee")[1])
    assert answers[-1] == {"done": 3, "drawn": True}
    assert explorer.classes[explorer.target] == "espresso"


def test_frames_per_second_counts_frames_drawn_and_is_read_out_beside_the_toggle(streaming):
    explorer, camera, _ = streaming
    assert explorer.frames_per_second == 0.0
    rgba = frame_of("coffee")[1]
    for frame_id in range(1, 4):
        page.frame(camera, frame_id, rgba)
    assert explorer.frames_per_second > 0
    number, unit = camera.readout.split(" ")
    assert unit == "frames/s" and float(number) > 0
    page.update(camera, active=False)
    assert explorer.frames_per_second == 0.0 and camera.readout == ""


def test_frame_rate_is_frames_over_the_time_they_took_within_the_window():
    now = [0.0]
    rate = FrameRate(window=3.0, clock=lambda: now[0])

    def frames_at(*times):
        for at in times:
            now[0] = at
            rate.tick()

    assert rate.value == 0.0
    frames_at(0.0, 0.1, 0.2, 0.3, 0.4)
    assert rate.value == pytest.approx(4 / 0.4)
    now[0] = 3.5  # no frame for more than the window: stopped
    assert rate.value == 0.0
    frames_at(10.0, 10.5)  # the frames before are out of the window
    assert rate.value == pytest.approx(2.0)
    frames_at(20.0, 24.0)  # slower than the window: the last two frames
    assert rate.value == pytest.approx(0.25)


def test_a_frame_of_the_wrong_size_is_said_and_the_last_frame_stays(streaming):
    explorer, camera, answers = streaming
    page.frame(camera, 1, frame_of("chelsea")[1])
    held = explorer.refresh()["attribution"].copy()
    page.frame(camera, 2, b"\x00" * (100 * 100 * 4))
    assert answers[-1] == {"done": 2, "drawn": False}
    assert "a webcam frame could not be shown" in explorer.message
    assert "not a 224 x 224 RGBA picture" in explorer.message
    assert np.array_equal(explorer.refresh()["attribution"], held)
    with pytest.raises(ValueError, match="40000 bytes is not a 224 x 224"):
        frame_picture(b"\x00" * 40000, 224)


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ("refused", "the browser was refused the camera"),
        ("unavailable", "no camera could be opened"),
        ("insecure", "only to pages served over https or from localhost"),
    ],
)
def test_a_camera_the_page_cannot_open_is_said_and_the_toggle_goes_off(streaming, state, words):
    explorer, camera, answers = streaming
    page.update(camera, state=state)
    assert words in explorer.message and "go on with photos" in explorer.message
    assert not explorer.webcam and not camera.active
    # The photos still work.
    explorer.image = "coffee"
    assert explorer.classes[explorer.target] == "espresso"


def test_frames_are_not_taken_while_the_webcam_is_off():
    explorer = Explorer()
    camera = explorer.controls.camera
    answers: list[dict] = []
    camera.send = lambda content, buffers=None: answers.append(content)
    before = explorer.refresh()["input"].copy()
    page.frame(camera, 1, frame_of("coffee")[1])
    assert answers == [{"done": 1, "drawn": False}]
    assert np.array_equal(explorer.refresh()["input"], before) and explorer.image == "chelsea"
    explorer.close()


def test_a_model_without_pictures_refuses_the_webcam_and_puts_the_toggle_back():
    torch.manual_seed(0)
    table = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    explorer = Explorer(model=table, inputs=torch.randn(4, 6))
    camera = explorer.controls.camera
    page.update(camera, active=True)
    assert not explorer.webcam and not camera.active
    assert "the webcam gives pictures, and this Explorer shows table inputs" in explorer.message
    with pytest.raises(ValueError, match="webcam=True: the webcam gives pictures"):
        Explorer(model=table, inputs=torch.randn(4, 6), webcam=True)
    explorer.close()


def test_the_constructor_opens_the_webcam():
    explorer = Explorer(webcam=True)
    assert explorer.webcam and explorer.controls.camera.active
    explorer.close()
