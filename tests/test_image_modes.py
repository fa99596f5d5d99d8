"""Images in modes other than JPEG's: 16-bit samples, palettes, transparency, 1-bit, float.

Every image is a real file written here from a shared sample's pixels; each is compared with the tiny
image of an 8-bit file holding what it should mean (16-bit samples scaled down, transparency composited
on black), computed independently with numpy.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builder.transform import DECODE_ERRORS, UnsupportedImageError, tiny_image
from tests.fixtures.sources import sample_path

SIZE = (16, 16)


@pytest.fixture(scope="module")
def rgb(sample_dir) -> Image.Image:
    return without_metadata(Image.open(sample_path(sample_dir, "n01440764")).convert("RGB"))


def without_metadata(image: Image.Image) -> Image.Image:
    """``image`` without the profile or EXIF it came with (Pillow would write them into every copy)."""
    image.info.clear()
    return image


def tiny(path: Path, color: str = "gray", fit_mode: str = "crop") -> np.ndarray:
    return np.asarray(tiny_image(path, SIZE, color, fit_mode).image, dtype=np.int64)


def assert_alike(path: Path, expected: Path, color: str, fit_mode: str = "crop") -> None:
    """The tiny images agree within one level, in every pixel."""
    assert np.abs(tiny(path, color, fit_mode) - tiny(expected, color, fit_mode)).max() <= 1


def save(image: Image.Image, path: Path, **params) -> Path:
    image.save(path, **params)
    return path


def png_16_bit(path: Path, samples: np.ndarray) -> Path:
    """A 16-bit PNG written byte by byte (Pillow writes 16-bit gray, not 16-bit RGB): gray for 2-D ``samples``."""
    height, width = samples.shape[:2]
    color_type = 0 if samples.ndim == 2 else 2
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in samples)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


def alpha_ramp(size: tuple[int, int]) -> np.ndarray:
    """Alpha rising from left to right; the left quarter fully transparent."""
    width, height = size
    alpha = np.tile(np.linspace(0, 255, width).round().astype(np.uint8), (height, 1))
    alpha[:, : width // 4] = 0
    return alpha


def on_black(pixels: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``pixels`` composited on black by ``alpha``, rounded."""
    weights = alpha if pixels.ndim == 2 else alpha[..., None]
    return ((pixels.astype(np.uint32) * weights + 127) // 255).astype(np.uint8)


# --- 16-bit samples ------------------------------------------------------------------------------------


def write_16_bit_png(path: Path, samples: np.ndarray) -> Path:
    return png_16_bit(path.with_suffix(".png"), samples)


def write_16_bit_big_endian_tiff(path: Path, samples: np.ndarray) -> Path:
    # From the bytes: Pillow's convert("I;16B") clips to 255 as well.
    image = Image.frombytes("I;16B", samples.shape[::-1], samples.astype(">u2").tobytes())
    return save(image, path.with_suffix(".tif"))


def write_16_bit_pgm(path: Path, samples: np.ndarray) -> Path:
    return save(Image.fromarray(samples), path.with_suffix(".pgm"))


@pytest.mark.parametrize("write, mode", [(write_16_bit_png, "I;16"), (write_16_bit_big_endian_tiff, "I;16B"),
                                         (write_16_bit_pgm, "I")])
@pytest.mark.parametrize("color", ["gray", "sRGB"])
def test_16_bit_gray_comes_out_as_its_8_bit_gray_levels(rgb, tmp_path, write, mode, color):
    """The sample's luma stored as 16 bits (``v * 257``) gives the tiny image of the 8-bit luma, not white."""
    luma = np.asarray(rgb.convert("L"))
    wide = write(tmp_path / "wide", luma.astype(np.uint16) * 257)
    assert Image.open(wide).mode == mode
    eight = save(Image.fromarray(luma), tmp_path / "eight.png")
    assert_alike(wide, eight, color)
    assert tiny(wide, color).mean() < 200  # the sample is no white picture


def test_16_bit_rgb_comes_out_as_its_8_bit_colours(rgb, tmp_path):
    pixels = np.asarray(rgb)
    wide = png_16_bit(tmp_path / "wide.png", pixels.astype(np.uint16) * 257)
    assert_alike(wide, save(rgb, tmp_path / "eight.png"), "sRGB")


def test_16_bit_gray_with_a_transparent_level_has_it_black(rgb, tmp_path):
    luma = np.asarray(rgb.convert("L"))
    key = int(np.bincount(luma.ravel()).argmax())  # the most frequent gray level is the transparent one
    wide = save(Image.fromarray(luma.astype(np.uint16) * 257), tmp_path / "wide.png", transparency=key * 257)
    expected = save(Image.fromarray(np.where(luma == key, 0, luma).astype(np.uint8)), tmp_path / "expected.png")
    assert_alike(wide, expected, "gray")


def test_32_bit_and_float_pixels_are_refused_and_skipped(rgb, tmp_path):
    luma = np.asarray(rgb.convert("L"), dtype=np.int32)
    wide = save(Image.fromarray(luma * 4096).convert("I"), tmp_path / "wide.tif")  # beyond 16 bits
    assert Image.open(wide).mode == "I"
    with pytest.raises(UnsupportedImageError, match=r"mode I\) with values from 0 to \d+, beyond 16 bits"):
        tiny_image(wide, SIZE, "gray")
    floats = save(Image.fromarray(luma.astype(np.float32) / 255), tmp_path / "float.tif")
    assert Image.open(floats).mode == "F"
    with pytest.raises(UnsupportedImageError, match=r"float pixels \(mode F\) have no agreed range"):
        tiny_image(floats, SIZE, "sRGB")
    assert issubclass(UnsupportedImageError, DECODE_ERRORS)  # so the builder skips and reports the image


# --- transparency: composited on black ------------------------------------------------------------------


@pytest.mark.parametrize("color", ["gray", "sRGB"])
@pytest.mark.parametrize("fit_mode", ["crop", "pad"])
def test_rgba_is_composited_on_black(rgb, tmp_path, color, fit_mode):
    pixels, alpha = np.asarray(rgb), alpha_ramp(rgb.size)
    rgba = save(Image.fromarray(np.dstack([pixels, alpha])), tmp_path / "rgba.png")
    assert Image.open(rgba).mode == "RGBA"
    expected = save(Image.fromarray(on_black(pixels, alpha)), tmp_path / "expected.png")
    assert_alike(rgba, expected, color, fit_mode)


def test_la_is_composited_on_black(rgb, tmp_path):
    luma, alpha = np.asarray(rgb.convert("L")), alpha_ramp(rgb.size)
    la = save(Image.fromarray(np.dstack([luma, alpha])), tmp_path / "la.png")
    assert Image.open(la).mode == "LA"
    expected = save(Image.fromarray(on_black(luma, alpha)), tmp_path / "expected.png")
    for color in ("gray", "sRGB"):
        assert_alike(la, expected, color)


def palette_image(rgb: Image.Image) -> Image.Image:
    """The sample in 255 colours, its left half painted with palette entry 255: white."""
    image = rgb.quantize(255)
    palette = image.getpalette() + [0] * 768
    image.putpalette(palette[: 255 * 3] + [255, 255, 255])
    image.paste(255, (0, 0, rgb.width // 2, rgb.height))
    return image


@pytest.mark.parametrize("color", ["gray", "sRGB"])
def test_a_palette_image_comes_out_as_its_colours(rgb, tmp_path, color):
    image = palette_image(rgb)
    path = save(image, tmp_path / "p.png")
    assert Image.open(path).mode == "P" and "transparency" not in Image.open(path).info
    assert_alike(path, save(image.convert("RGB"), tmp_path / "expected.png"), color)


@pytest.mark.parametrize("color", ["gray", "sRGB"])
def test_a_palette_images_transparent_entry_is_black(rgb, tmp_path, color):
    image = palette_image(rgb)
    path = save(image, tmp_path / "p.png", transparency=255)
    assert Image.open(path).mode == "P" and Image.open(path).info["transparency"] == 255
    colours = np.asarray(image.convert("RGB"))
    expected = np.where((np.asarray(image) == 255)[..., None], 0, colours).astype(np.uint8)
    assert_alike(path, save(Image.fromarray(expected), tmp_path / "expected.png"), color)


def test_a_palette_image_with_alpha_is_composited_on_black(rgb, tmp_path):
    image = palette_image(rgb)
    alpha = alpha_ramp(rgb.size)
    pa = image.convert("PA")
    pa.putalpha(Image.fromarray(alpha))
    path = save(pa, tmp_path / "pa.tif")  # PNG cannot hold PA; TIFF can
    assert Image.open(path).mode == "PA"
    expected = save(Image.fromarray(on_black(np.asarray(image.convert("RGB")), alpha)), tmp_path / "expected.png")
    assert_alike(path, expected, "sRGB")


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_a_transparent_colour_key_is_black(rgb, tmp_path, mode):
    image = palette_image(rgb).convert("RGB").convert(mode)  # the left half is white: the key
    key = 255 if mode == "L" else (255, 255, 255)
    path = save(image, tmp_path / "keyed.png", transparency=key)
    assert Image.open(path).info["transparency"] == key
    pixels = np.asarray(image)
    keyed = pixels == 255 if mode == "L" else np.all(pixels == 255, axis=-1, keepdims=True)
    expected = save(Image.fromarray(np.where(keyed, 0, pixels).astype(np.uint8)), tmp_path / "expected.png")
    assert_alike(path, expected, "sRGB")


def test_1_bit_comes_out_as_black_and_white(rgb, tmp_path):
    one = rgb.convert("1")
    path = save(one, tmp_path / "one.png")
    assert Image.open(path).mode == "1"
    expected = save(one.convert("L"), tmp_path / "expected.png")
    for color in ("gray", "sRGB"):
        np.testing.assert_array_equal(tiny(path, color), tiny(expected, color))


# --- colour management after flattening ----------------------------------------------------------------


def test_an_rgba_images_icc_profile_is_applied(sample_dir, tmp_path):
    """An opaque RGBA PNG with an Adobe RGB profile gives what the same pixels give as an RGB PNG."""
    with Image.open(sample_path(sample_dir, "n01532829")) as jpeg:  # carries an Adobe RGB (1998) profile
        profile = jpeg.info["icc_profile"]
        pixels = without_metadata(jpeg.convert("RGB"))
    rgba = pixels.copy()
    rgba.putalpha(255)
    with_alpha = save(rgba, tmp_path / "rgba.png", icc_profile=profile)
    expected = save(pixels, tmp_path / "rgb.png", icc_profile=profile)
    np.testing.assert_array_equal(tiny(with_alpha, "sRGB"), tiny(expected, "sRGB"))
    unmanaged = save(pixels, tmp_path / "plain.png")
    assert np.abs(tiny(expected, "sRGB") - tiny(unmanaged, "sRGB")).mean() > 2  # the profile matters here
