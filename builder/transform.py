"""One source image to one tiny image: decode (DCT-downscaled), colour-manage, fit, resample, encode.

The costly step is JPEG decoding, so the decoder is asked for a DCT-domain downscaled image
(Pillow's ``draft``, libjpeg scaling by 1/2, 1/4 or 1/8) that stays at least ``DRAFT_OVERSAMPLING``
times larger than what the resample needs; the README gives the measured difference against a full
decode. ImageNet also holds CMYK JPEGs, grayscale JPEGs, JPEGs with ICC profiles (about 30%, most of
them sRGB) and a PNG named .JPEG: all come out as sRGB (or its BT.601 luma for gray). A profile other
than sRGB is applied to the resampled tiny image, where it costs nothing; on the decoded image it cost
more per pixel than the decode itself. The tiny PNGs hold pixels only (no profile, no EXIF).

Other images are first brought to 8-bit gray (``L``), ``RGB`` or ``CMYK`` (:func:`flatten`):

- 16-bit samples keep their high byte (``v >> 8``), as Pillow itself reads 16-bit RGB PNGs, so a gray
  PNG and an RGB PNG of the same 16-bit picture agree, and an 8-bit image stored as 16 bits (``v * 257``)
  comes back exactly. Pillow's own conversion would clip them to 255 (white). Mode ``I`` (32-bit) is
  taken as 16-bit samples; values outside 0..65535, and float pixels (``F``), have no agreed scale and
  are refused (:class:`UnsupportedImageError`: the builder skips and reports the image).
- Transparency (an alpha band, a palette's transparent entries, a PNG's transparent colour) is
  composited on black, the colour that ``pad`` fills with: a fully transparent pixel comes out black.
- Palette and 1-bit images come out as their colours (RGB) and gray levels (L); an ICC profile then
  applies as for any image of the flattened mode.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import os
import struct
from typing import BinaryIO, Optional, Union

import numpy as np
from PIL import Image, ImageCms

from builder.errors import ImageNetTinyError
from builder.geometry import Fit, fit_geometry

RESAMPLING = {
    "box": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "nearest": Image.Resampling.NEAREST,
}
OUTPUT_MODES = {"gray": "L", "sRGB": "RGB"}

# The decoded image keeps at least this many source pixels per tiny pixel along each axis, and at least
# DRAFT_MIN_SIDE pixels: below that, decoding is bound by the entropy decoding whatever the scale, so a
# smaller draft would only cost fidelity (the README gives the measured difference).
DRAFT_OVERSAMPLING = 4
DRAFT_MIN_SIDE = 64

# Profiles that are sRGB already: converting would be an identity, so it is skipped.
SRGB_DESCRIPTIONS = frozenset({"sRGB IEC61966-2.1", "sRGB IEC61966-2-1"})


class UnsupportedImageError(ImageNetTinyError, ValueError):
    """An image whose pixels have no agreed 8-bit meaning (float samples, 32-bit integers beyond 16 bits)."""


# What Pillow raises for unreadable, truncated or malformed images (UnsupportedImageError is a ValueError).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)

# Modes of gray levels, which flatten to L; CMYK stays CMYK until colour-managed; all others flatten to RGB.
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N"})
_WIDE_GRAY_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})  # 16 (or 32) bits a sample

ImageSource = Union[str, os.PathLike, BinaryIO]


@dataclasses.dataclass(frozen=True)
class TinyImage:
    image: Image.Image
    original_size: tuple[int, int]
    fit: Fit


@dataclasses.dataclass(frozen=True)
class Decoded:
    """A source image decoded (DCT-downscaled where it can be) but not yet colour-managed or resampled."""

    image: Image.Image
    original_size: tuple[int, int]
    fit: Fit
    scale: float  # source pixels per decoded pixel
    to_srgb: Optional[ImageCms.ImageCmsTransform]


def decode(source: ImageSource, size: tuple[int, int], color: str, fit_mode: str = "crop", draft: bool = True) -> Decoded:
    """The decoding step of :func:`tiny_image` alone: the floor that the benchmark compares the builder with."""
    with Image.open(source) as image:
        original_size = image.size
        fit = fit_geometry(original_size, size, fit_mode)
        to_srgb = _icc_transform(image)
        # JPEG's own luma is BT.601 of its RGB, so gray can skip chroma unless a profile must be applied.
        fast_gray = OUTPUT_MODES[color] == "L" and to_srgb is None and image.mode == "RGB"
        scale = _draft(image, fit, "L" if fast_gray else None) if draft else 1.0
        image.load()
        image = flatten(image)
    return Decoded(image, original_size, fit, scale, to_srgb)


def tiny_image(
    source: ImageSource,
    size: tuple[int, int],
    color: str,
    fit_mode: str = "crop",
    resample: str = "box",
    draft: bool = True,
) -> TinyImage:
    """Decode ``source`` and fit it into ``size`` by ``fit_mode``, in ``color`` (``gray`` or ``sRGB``).

    The result holds pixels only (no ``info``): the source's ICC profile or EXIF would mislabel them.
    ``draft=False`` decodes in full: slower, and only there to measure what the DCT downscaling changes.
    """
    output_mode = OUTPUT_MODES[color]
    decoded = decode(source, size, color, fit_mode, draft)
    # A profile is applied after resampling: per pixel it costs more than the DCT-scaled decode itself,
    # and on the tiny image it is free (the README gives the measured difference; draft=False keeps
    # the reference order, colour management at full resolution).
    manage_late = decoded.to_srgb is not None and draft
    image = decoded.image if manage_late else _to_mode(decoded.image, output_mode, decoded.to_srgb)
    region = tuple(c / decoded.scale for c in decoded.fit.source_region)
    x0, y0, x1, y1 = (int(c) for c in decoded.fit.target_region)
    tiny = image.resize((x1 - x0, y1 - y0), RESAMPLING[resample], box=region)
    if manage_late:
        tiny = _to_mode(tiny, output_mode, decoded.to_srgb)
    if (x1 - x0, y1 - y0) != size:  # pad: centre on black
        canvas = Image.new(output_mode, size, 0)
        canvas.paste(tiny, (x0, y0))
        tiny = canvas
    tiny.info.clear()
    return TinyImage(tiny, decoded.original_size, decoded.fit)


def _draft(image: Image.Image, fit: Fit, mode: Optional[str]) -> float:
    """Ask the JPEG decoder for a DCT-downscaled image; returns source pixels per decoded pixel."""
    if image.format != "JPEG":
        return 1.0
    scale_x, scale_y = fit.scale
    w, h = image.size
    wanted = (
        max(DRAFT_MIN_SIDE, math.ceil(w * scale_x * DRAFT_OVERSAMPLING)),
        max(DRAFT_MIN_SIDE, math.ceil(h * scale_y * DRAFT_OVERSAMPLING)),
    )
    drafted = image.draft(mode, wanted)
    return 1.0 if drafted is None else w / drafted[1][2]


def flatten(image: Image.Image) -> Image.Image:
    """``image`` in 8-bit ``L``, ``RGB`` or ``CMYK``: 16-bit samples scaled, transparency composited on black.

    JPEGs (L, RGB, CMYK) come back as they are, at no cost. The module docstring states the choices.
    """
    mode = _flat_mode(image.mode)
    if image.mode in _WIDE_GRAY_MODES:
        return _gray_to_8_bits(image)
    transparent = "transparency" in image.info or any(band in ("A", "a") for band in image.getbands())
    if not transparent:
        return image if image.mode == mode else image.convert(mode)
    # Pillow's conversions to LA/RGBA turn a palette's or a colour key's transparency into alpha.
    with_alpha = image.convert("LA" if mode == "L" else "RGBA")
    flat = Image.new(mode, image.size, 0)
    flat.paste(with_alpha.convert(mode), mask=with_alpha.getchannel("A"))
    return flat


def _flat_mode(mode: str) -> str:
    """The mode that :func:`flatten` brings an image of ``mode`` to."""
    if mode == "F":
        raise UnsupportedImageError("float pixels (mode F) have no agreed range of values: save the image "
                                    "with 8 or 16 bits per sample")
    return "L" if mode in _GRAY_MODES else "CMYK" if mode == "CMYK" else "RGB"


def _gray_to_8_bits(image: Image.Image) -> Image.Image:
    """A 16-bit gray image as L (high byte); its transparent gray level, if any, composited on black."""
    samples = np.asarray(image)
    if samples.size and (samples.min() < 0 or samples.max() > 0xFFFF):
        raise UnsupportedImageError(f"32-bit pixels (mode {image.mode}) with values from {samples.min()} to "
                                    f"{samples.max()}, beyond 16 bits, have no agreed 8-bit scale")
    gray = (samples >> 8).astype(np.uint8)
    if "transparency" in image.info:
        gray[samples == image.info["transparency"]] = 0
    return Image.fromarray(gray)


def _to_mode(image: Image.Image, output_mode: str, to_srgb: Optional[ImageCms.ImageCmsTransform]) -> Image.Image:
    """Convert a flattened image to sRGB (``RGB``) or its BT.601 luma (``L``; Pillow's L conversion is BT.601)."""
    if to_srgb is not None:
        image = ImageCms.applyTransform(image, to_srgb)
    elif image.mode == "CMYK":  # without a profile: Pillow's conversion to RGB
        image = image.convert("RGB")
    return image if image.mode == output_mode else image.convert(output_mode)


def _icc_transform(image: Image.Image) -> Optional[ImageCms.ImageCmsTransform]:
    """The transform of the embedded profile to sRGB, for the image once flattened (see :func:`flatten`)."""
    profile = image.info.get("icc_profile")
    if not profile:
        return None
    return _cached_icc_transform(profile, _flat_mode(image.mode))


_ICC_COLOR_SPACES = {"RGB": "RGB", "L": "GRAY", "CMYK": "CMYK"}


@functools.lru_cache(maxsize=64)
def _cached_icc_transform(profile: bytes, mode: str) -> Optional[ImageCms.ImageCmsTransform]:
    """The transform from an embedded profile to sRGB; None when it is sRGB already or does not fit the image.

    A profile for another colour space than the image's (an RGB profile on a grayscale JPEG happens in
    ImageNet) is invalid, and decoders ignore it; so do we.
    """
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    except (OSError, ImageCms.PyCMSError):
        return None
    if source.profile.xcolor_space.strip() != _ICC_COLOR_SPACES[mode]:
        return None
    if source.profile.profile_description.strip() in SRGB_DESCRIPTIONS and mode == "RGB":
        return None
    try:
        return ImageCms.buildTransform(source, _srgb_profile(), mode, "RGB")
    except ImageCms.PyCMSError:
        return None


@functools.lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
