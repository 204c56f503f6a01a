"""Pictures: exact pixel values for hand-made inputs."""

import numpy as np
import pytest
import torch

from gbp_widgets import render


def test_gradient_image_centres_zero_on_grey_and_clips_by_the_spread():
    attribution = np.zeros((3, 2, 2))
    attribution[0, 0, 0] = 1.0
    attribution[0, 0, 1] = -1.0
    attribution[1, 1, 1] = 100.0  # an outlier beyond the 100th percentile of nothing
    picture = render.gradient_image(attribution, percentile=100.0)
    assert picture.shape == (2, 2, 4) and picture.dtype == np.uint8
    assert (picture[..., 3] == 255).all()
    assert tuple(picture[1, 0, :3]) == (128, 128, 128)
    assert picture[1, 1, 1] == 255
    assert picture[0, 0, 0] == round(255 * (0.5 + 0.5 * 0.01))
    assert picture[0, 1, 0] == round(255 * (0.5 - 0.5 * 0.01))


def test_percentile_clipping_saturates_the_outlier():
    values = np.linspace(0, 1, 100).reshape(1, 10, 10).repeat(3, 0)
    values[:, 9, 9] = 1000.0
    picture = render.gradient_image(values, percentile=50.0)
    assert picture[9, 9, 0] == 255
    assert 128 < picture[2, 0, 0] < 255  # 0.2 of a 0.5 spread: not clipped


def test_saliency_modes():
    attribution = np.array([[[2.0, -4.0]], [[-1.0, 1.0]], [[0.0, 0.0]]])  # (3, 1, 2)
    absolute = render.saliency_map(attribution, percentile=100.0)
    assert absolute.tolist() == [[0.5, 1.0]]
    assert render.saliency_map(attribution, 100.0, "positive").tolist() == [[1.0, 0.5]]
    assert render.saliency_map(attribution, 100.0, "negative").tolist() == [[0.25, 1.0]]
    picture = render.saliency(attribution, 100.0)
    assert picture[0, 1].tolist() == [255, 255, 255, 255]
    assert picture[0, 0].tolist() == [128, 128, 128, 255]


def test_all_zero_attribution_renders_without_dividing_by_zero():
    assert (render.saliency(np.zeros((3, 4, 4)))[..., :3] == 0).all()
    assert (render.gradient_image(np.zeros((3, 4, 4)))[..., :3] == 128).all()


def test_overlay_leaves_zero_saliency_pixels_as_the_image():
    image = np.full((2, 2, 3), 40, dtype=np.uint8)
    attribution = np.zeros((3, 2, 2))
    attribution[:, 0, 0] = 1.0
    picture = render.overlay(image, attribution, percentile=100.0, alpha=0.5)
    assert picture[1, 1, :3].tolist() == [40, 40, 40]
    assert picture[0, 0, :3].tolist() != [40, 40, 40]


def test_mask_picture_one_channel_and_fraction_of_channels():
    mask = np.zeros((4, 1, 2), dtype=bool)
    mask[:, 0, 0] = [True, True, False, False]
    mask[0, 0, 1] = True
    assert render.mask_picture(mask, channel=0)[0, :, 0].tolist() == [255, 255]
    assert render.mask_picture(mask, channel=2)[0, :, 0].tolist() == [0, 0]
    assert render.mask_picture(mask)[0, :, 0].tolist() == [128, 64]
    with pytest.raises(ValueError, match="channel 4 is out of range"):
        render.mask_picture(mask, channel=4)


def test_channel_grid_places_channels_row_by_row():
    maps = np.zeros((3, 2, 2), dtype=bool)
    maps[2] = True
    grid = render.channel_grid(maps, columns=2, gap=1)
    assert grid.shape == (5, 5, 4)
    assert (grid[3:5, 0:2, 0] == 255).all() and (grid[0:2, 0:2, 0] == 0).all()
    assert grid[2, 0, 0] == 128 and grid[0, 2, 0] == 128


def test_float_grid_is_normalised_per_channel():
    maps = np.stack([np.array([[0.0, 2.0]]), np.array([[10.0, 30.0]])])
    grid = render.channel_grid(maps, columns=2, gap=0)
    assert grid[0, :, 0].tolist() == [0, 255, 0, 255]


def test_torch_tensors_are_accepted():
    picture = render.display(torch.ones(3, 4, 4), "positive")
    assert picture.shape == (4, 4, 4)
    with pytest.raises(ValueError, match="overlay display needs the input image"):
        render.display(torch.ones(3, 4, 4), "overlay")
    with pytest.raises(ValueError, match="unknown display mode"):
        render.display(torch.ones(3, 4, 4), "sepia")


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (224, 224)])
@pytest.mark.parametrize("opaque", [True, False])
def test_png_bytes_decode_to_the_same_pixels(shape, opaque):
    import io

    from PIL import Image

    rng = np.random.default_rng(sum(shape))
    picture = rng.integers(0, 256, (*shape, 4), dtype=np.uint8)
    if opaque:
        picture[..., 3] = 255
    encoded = render.png_bytes(picture)
    decoded = Image.open(io.BytesIO(encoded))
    # An opaque picture goes without its alpha channel, a quarter fewer bytes to pack.
    assert decoded.mode == ("RGB" if opaque else "RGBA")
    np.testing.assert_array_equal(np.asarray(decoded.convert("RGBA")), picture)
