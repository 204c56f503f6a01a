"""Pictures in (every mode, bad files) and models by name, all offline."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from gbp_widgets import (
    SAMPLE_NAMES,
    ImageError,
    ModelUnavailableError,
    load_image,
    load_model,
    sample_image,
)
from gbp_widgets.models import Preprocessing, model_names


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_sample_loads_as_rgb(name):
    image = sample_image(name)
    assert image.mode == "RGB" and min(image.size) >= 100


def test_unknown_sample_lists_the_choices():
    with pytest.raises(ValueError, match="chelsea, coffee"):
        sample_image("dog")


def test_modes_are_converted_to_rgb():
    gray = Image.fromarray(np.full((4, 4), 90, dtype=np.uint8))
    assert np.asarray(load_image(encoded(gray)))[0, 0].tolist() == [90, 90, 90]
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert np.asarray(load_image(encoded(rgba)))[0, 0].tolist() == [255, 255, 255]
    palette = Image.new("RGB", (4, 4), (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert np.asarray(load_image(encoded(palette)))[0, 0].tolist() == [10, 200, 30]
    cmyk = Image.new("CMYK", (4, 4), (0, 0, 0, 0))
    assert np.asarray(load_image(encoded(cmyk, "JPEG")))[0, 0].tolist() == [255, 255, 255]


def test_sixteen_bit_images_are_scaled_not_clipped():
    values = np.full((4, 4), 32768, dtype=np.uint16)
    image = load_image(encoded(Image.fromarray(values)))
    assert np.asarray(image)[0, 0].tolist() == [128, 128, 128]


def test_paths_and_file_objects(tmp_path):
    path = tmp_path / "red.png"
    Image.new("RGB", (5, 3), (200, 0, 0)).save(path)
    assert load_image(path).size == (5, 3)
    assert load_image(str(path)).size == (5, 3)
    with open(path, "rb") as handle:
        assert load_image(handle).size == (5, 3)


def test_not_an_image():
    with pytest.raises(ImageError, match="not an image file"):
        load_image(b"%PDF-1.4 definitely not a picture")


def test_a_truncated_image():
    data = encoded(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")
    with pytest.raises(ImageError, match="could not be decoded"):
        load_image(data[: len(data) // 2])


def test_decompression_bombs_are_refused_before_decoding():
    bomb = encoded(Image.new("L", (5000, 5000)))
    with pytest.raises(ImageError, match="too large \\(5000 x 5000 pixels"):
        load_image(bomb, max_pixels=1_000_000)


def test_a_huge_jpeg_is_decoded_at_reduced_size():
    photo = encoded(Image.new("RGB", (4000, 3000), (5, 100, 5)), "JPEG")
    image = load_image(photo, max_pixels=1_000_000)
    assert image.size[0] * image.size[1] <= 1_000_000 and image.size[0] >= 500


def test_exif_rotation_is_applied():
    image = Image.new("RGB", (6, 2), (0, 0, 0))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    assert load_image(buffer.getvalue()).size == (2, 6)


def test_preprocessing_crops_normalises_and_inverts():
    preprocess = Preprocessing(size=8, resize=10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    image = Image.new("RGB", (20, 10), (255, 0, 128))
    tensor = preprocess(image)
    assert tensor.shape == (3, 8, 8)
    assert tensor[0, 0, 0].item() == pytest.approx(2.0)
    assert tensor[1, 0, 0].item() == pytest.approx(-2.0)
    restored = preprocess.unnormalize(tensor)
    assert restored[2, 0, 0].item() == pytest.approx(128 / 255)


def test_default_model_is_pretrained_and_offline(lite0):
    model, preprocess, classes = lite0
    assert len(classes) == 1000 and not model.training
    with torch.no_grad():
        logits = model(preprocess(sample_image("chelsea"))[None])
    assert "cat" in classes[int(logits.argmax())]
    with torch.no_grad():
        coffee = model(preprocess(sample_image("coffee"))[None])
    assert classes[int(coffee.argmax())] in ("espresso", "cup", "coffee mug")


def test_torchvision_names_and_random_weights():
    names = model_names()
    assert names[0] == "efficientnet_lite0" and "resnet18" in names and "vgg16" in names
    loaded = load_model("resnet18", weights=None)
    assert loaded.model.fc.out_features == 1000 and loaded.preprocess.size == 224


def test_cached_torchvision_weights_are_used(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(0)
    state = torchvision.models.squeezenet1_1(weights=None).state_dict()
    checkpoint = tmp_path / "hub" / "checkpoints"
    checkpoint.mkdir(parents=True)
    url = torchvision.models.SqueezeNet1_1_Weights.DEFAULT.url
    torch.save(state, checkpoint / url.rsplit("/", 1)[-1])
    loaded = load_model("squeezenet1_1")
    assert torch.equal(loaded.model.state_dict()["features.0.weight"], state["features.0.weight"])


def test_missing_weights_offline_name_the_cache_file_and_the_default(tmp_path, monkeypatch):
    import urllib.error

    import torch.hub

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(ModelUnavailableError) as caught:
        load_model("resnet18")
    message = str(caught.value)
    assert str(tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in message
    assert "efficientnet_lite0" in message


def test_unknown_model_and_weights():
    with pytest.raises(ValueError, match="unknown model 'resnet1000'"):
        load_model("resnet1000")
    with pytest.raises(ValueError, match="unknown weights 'BEST'.*IMAGENET1K_V1"):
        load_model("resnet18", weights="BEST")
