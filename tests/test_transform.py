"""One image to one tiny image: colour handling of ImageNet's odd inputs, and the fast decode's fidelity."""

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from builder.png import encode_png
from builder.transform import tiny_image
from fidelity import full_decode_reference, mean_abs_difference
from tests.fixtures.sources import sample_path

SIZE = (32, 32)


def pixels(image):
    return np.asarray(image, dtype=np.float64)


def test_sizes_and_modes_for_every_fit(sample_dir):
    path = sample_path(sample_dir, "n01440764")
    for fit_mode in ("crop", "pad", "squash"):
        for color, mode in (("gray", "L"), ("sRGB", "RGB")):
            tiny = tiny_image(path, (48, 32), color, fit_mode)
            assert tiny.image.size == (48, 32) and tiny.image.mode == mode
            assert tiny.original_size == Image.open(path).size


def test_pad_leaves_black_borders(sample_dir):
    path = sample_path(sample_dir, "n01440764")  # landscape
    tiny = pixels(tiny_image(path, SIZE, "sRGB", "pad").image)
    top = int(tiny_image(path, SIZE, "sRGB", "pad").fit.target_region[1])
    assert top > 0
    assert np.all(tiny[:top] == 0) and np.all(tiny[SIZE[1] - top :] == 0)
    assert tiny[top:-top].mean() > 10


def test_gray_is_bt601_luma_of_the_srgb_result(sample_dir):
    worst = 0.0
    for wnid in ("n01440764", "n01532829", "n02676566", "n04090263", "n03452741"):
        path = sample_path(sample_dir, wnid)
        rgb = pixels(tiny_image(path, SIZE, "sRGB").image)
        gray = pixels(tiny_image(path, SIZE, "gray").image)
        luma = rgb @ np.array([0.299, 0.587, 0.114])
        worst = max(worst, np.abs(gray - luma).mean())
        assert np.abs(gray - luma).max() <= 6
    assert worst < 1.0


def test_grayscale_jpeg_expands_to_equal_channels(sample_dir):
    path = next(p for p in sorted(sample_dir.glob("*.JPEG")) if Image.open(p).mode == "L" and not Image.open(p).info.get("icc_profile"))
    rgb = pixels(tiny_image(path, SIZE, "sRGB").image)
    assert np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2])
    np.testing.assert_array_equal(rgb[..., 0], pixels(tiny_image(path, SIZE, "gray").image))


def test_cmyk_jpeg_comes_out_as_its_rgb(sample_dir, tmp_path):
    source = sample_path(sample_dir, "n01440764")
    cmyk = tmp_path / "cmyk.JPEG"
    Image.open(source).convert("CMYK").save(cmyk, format="JPEG", quality=95)
    assert Image.open(cmyk).mode == "CMYK"
    got = tiny_image(cmyk, SIZE, "sRGB")
    assert got.image.mode == "RGB"
    assert mean_abs_difference(pixels(got.image), pixels(tiny_image(source, SIZE, "sRGB").image)) < 3


def test_icc_profile_is_converted_to_srgb(sample_dir):
    path = sample_path(sample_dir, "n01532829")  # carries an Adobe RGB (1998) profile
    with Image.open(path) as image:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
        assert "Adobe RGB" in ImageCms.getProfileDescription(profile)
        converted = ImageCms.profileToProfile(image, profile, ImageCms.createProfile("sRGB"), outputMode="RGB")
        ignored = image.convert("RGB")
    got = pixels(tiny_image(path, SIZE, "sRGB").image)
    expected = full_decode_reference(converted, SIZE)
    unmanaged = full_decode_reference(ignored, SIZE)
    assert mean_abs_difference(got, expected) < 2
    # The conversion really happened: ignoring the profile would be much further off.
    assert mean_abs_difference(got, unmanaged) > 3 * mean_abs_difference(got, expected)


def test_png_named_jpeg(sample_dir, tmp_path):
    source = sample_path(sample_dir, "n01440764")
    disguised = tmp_path / "n01440764_99.JPEG"
    Image.open(source).save(disguised, format="PNG")
    got = pixels(tiny_image(disguised, SIZE, "sRGB").image)
    expected = full_decode_reference(Image.open(source).convert("RGB"), SIZE)
    assert mean_abs_difference(got, expected) < 0.5  # a PNG is decoded in full: no draft


def test_png_encoding_is_deterministic(sample_dir):
    path = sample_path(sample_dir, "n01440764")
    first, second = (encode_png(tiny_image(path, SIZE, "sRGB").image) for _ in range(2))
    assert first == second
    assert Image.open(io.BytesIO(first)).size == SIZE


def test_truncated_jpeg_raises_a_decode_error(sample_dir, tmp_path):
    truncated = tmp_path / "truncated.JPEG"
    truncated.write_bytes(sample_path(sample_dir, "n01440764").read_bytes()[:3000])
    with pytest.raises(OSError):
        tiny_image(truncated, SIZE, "sRGB")


@pytest.mark.benchmark
@pytest.mark.parametrize("size, color", [((8, 8), "gray"), ((32, 32), "sRGB")])
def test_fast_decode_stays_within_two_grey_levels_of_a_full_decode(sample_dir, size, color):
    """Fidelity of the DCT-domain downscaling on all 1000 real sample images (the README quotes the figure)."""
    from fidelity import measure_fidelity

    result = measure_fidelity(sorted(sample_dir.glob("*.JPEG")), size, color)
    assert result.mean < 2.0, result
