"""Source images to tiny images: decode (DCT-downscaled), fit, resample, colour-manage, encode.

The costly step is JPEG decoding, so the decoder is asked for a DCT-domain downscaled image (Pillow's
``draft``, libjpeg scaling by 1/2, 1/4 or 1/8). **The decode does not depend on the tiny image's size**,
so that one decode serves every variant built from an image in one pass, and a variant's pixels are the
same whichever others were built with it: every size up to ``SHARED_DECODE_SIZE`` (64) is resampled from
the decode that keeps ``DRAFT_OVERSAMPLING`` (3) decoded pixels per tiny pixel at 64 x 64, that is at
least 192 pixels along the image's shorter side (whatever the fit mode: each maps at most 64 tiny pixels
onto it); a typical 500x375 JPEG is decoded in full. Larger sizes use the decode for the next power of
two. The README gives the measured difference against a full decode for every predefined size, colour
and fit mode (``benchmarks/fidelity.py``), and the cost to a small variant built alone.

JPEGs that store YCbCr (nearly all of ImageNet's) are resampled in YCbCr: gray is the resampled Y, the
JPEG's own BT.601 luma, which a gray variant alone decodes without the chroma (libjpeg's grayscale
output is that Y, byte for byte); sRGB is the resampled YCbCr converted. Every other image (grayscale,
CMYK and RGB-coded JPEGs, JPEGs whose ICC profile is not sRGB, PNGs) is resampled in its decoded mode,
then colour-managed to sRGB, and gray is the BT.601 luma of that. A profile is applied to the tiny image,
where it costs nothing; on the decoded image it cost more per pixel than the decode itself. The tiny
PNGs hold pixels only (no profile, no EXIF).

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
import os
import struct
from typing import BinaryIO, Collection, Optional, Sequence, Union

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

# Every size up to SHARED_DECODE_SIZE shares one decode, which keeps at least DRAFT_OVERSAMPLING decoded
# pixels per tiny pixel at that size. Measured on the 1000 sample JPEGs: with 3, every predefined size,
# colour and fit mode is within 0.9 grey levels of a full decode on average; with 2.5 (most 500x375
# JPEGs at half scale) 64x64 sRGB crop is 2.2 away; 4 would decode 15% more images in full.
SHARED_DECODE_SIZE = 64
DRAFT_OVERSAMPLING = 3
_DCT_SCALES = (8, 4, 2, 1)  # libjpeg's scalings that Pillow's draft offers: 1/8 .. 1/1

# Profiles that are sRGB already: converting would be an identity, so it is skipped.
SRGB_DESCRIPTIONS = frozenset({"sRGB IEC61966-2.1", "sRGB IEC61966-2-1"})


class UnsupportedImageError(ImageNetTinyError, ValueError):
    """An image whose pixels have no agreed 8-bit meaning (float samples, 32-bit integers beyond 16 bits)."""


# What Pillow raises for unreadable, truncated or malformed images (UnsupportedImageError is a ValueError).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)

# Modes of gray levels, which flatten to L; CMYK stays CMYK until colour-managed; all others flatten to RGB.
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N"})
_WIDE_GRAY_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})  # 16 (or 32) bits a sample
_RGB_COMPONENT_IDS = [82, 71, 66]  # 'R', 'G', 'B': how a JPEG without JFIF or Adobe marker says it stores RGB
_Y_PLANE = ("Y plane",)  # the key of a YCbCr decode's Y plane among its resamplings (_fit)

ImageSource = Union[str, os.PathLike, BinaryIO]


@dataclasses.dataclass(frozen=True)
class TinyRequest:
    """What one variant asks of an image: its size, colour (``gray`` or ``sRGB``), fit mode and filter."""

    size: tuple[int, int]
    color: str
    fit_mode: str = "crop"
    resample: str = "box"


@dataclasses.dataclass(frozen=True)
class TinyImage:
    image: Image.Image
    original_size: tuple[int, int]
    fit: Fit


@dataclasses.dataclass(frozen=True)
class Decoded:
    """A source image decoded (DCT-downscaled where it can be) but not yet resampled or colour-managed.

    ``image`` is ``YCbCr`` (a YCbCr JPEG without a profile to apply, for sRGB), ``L`` (its Y alone, for
    gray; or a gray image), ``RGB`` or ``CMYK``.
    """

    image: Image.Image
    original_size: tuple[int, int]
    scale: float  # source pixels per decoded pixel
    to_srgb: Optional[ImageCms.ImageCmsTransform]


def decode_side(size: tuple[int, int]) -> int:
    """The decoded pixels that a variant of ``size`` keeps at least along the image's shorter side.

    It depends on the size only through the power of two at or above it, at least SHARED_DECODE_SIZE, so
    that every size up to 64 (every predefined one) shares a decode.
    """
    tier = SHARED_DECODE_SIZE
    while tier < max(size):
        tier *= 2
    return DRAFT_OVERSAMPLING * tier


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
    ``draft=False`` is the reference that the fast path is measured against: a full decode, colour-managed
    and converted at full resolution, then resampled (slower; ``benchmarks/fidelity.py``).
    """
    return tiny_images(source, [TinyRequest(size, color, fit_mode, resample)], draft)[0]


def tiny_images(source: ImageSource, requests: Sequence[TinyRequest], draft: bool = True) -> list[TinyImage]:
    """The tiny image of each request, each exactly as :func:`tiny_image` makes it alone.

    One decode per DCT scale that the requests' sizes need (one for sizes up to 64), and one resampling
    per size, fit mode and filter (gray and sRGB of the same geometry share it).
    """
    if not draft:
        return _full_decode_tiny_images(source, requests)
    made: dict[int, TinyImage] = {}
    image = Image.open(source)
    try:
        groups: dict[int, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(_dct_scale(image, decode_side(request.size)), []).append(i)
        for n, (scale, indices) in enumerate(groups.items()):
            if n:  # sizes above 64 beside smaller ones: the decoder starts again, at another scale
                image.close()
                image = _reopen(source)
            decoded = _decode_open(image, scale, {requests[i].color for i in indices})
            resampled: dict[tuple, Image.Image] = {}
            for i in sorted(indices, key=lambda k: requests[k].color == "gray"):  # sRGB first: gray may share its resampling
                made[i] = _fit(decoded, requests[i], resampled)
    finally:
        image.close()
    return [made[i] for i in range(len(requests))]


def decode(source: ImageSource, size: tuple[int, int], colors: Collection[str]) -> Decoded:
    """The decoding step alone of variants of ``size`` in ``colors``: the floor that the benchmark compares
    the builder with."""
    with Image.open(source) as image:
        return _decode_open(image, _dct_scale(image, decode_side(size)), colors)


def _dct_scale(image: Image.Image, side: int) -> int:
    """The coarsest DCT scaling (1/8 .. 1/1) that keeps ``side`` decoded pixels along the shorter side (1 but for JPEGs)."""
    if image.format != "JPEG":
        return 1
    fits = min(image.size) // side
    return next((scale for scale in _DCT_SCALES if scale <= fits), 1)


def _decode_open(image: Image.Image, scale: int, colors: Collection[str]) -> Decoded:
    """Decode an opened image at 1/``scale`` (JPEG), as YCbCr, its Y alone, or flattened (see the module doc)."""
    original_size = image.size
    to_srgb = _icc_transform(image)
    if image.format == "JPEG":
        mode = None
        if to_srgb is None and _stores_ycbcr(image):
            mode = "L" if set(colors) == {"gray"} else "YCbCr"
        w, h = original_size
        # Pillow picks the coarsest scaling that keeps this size: 1/scale exactly (w // (w // s) < 2 s).
        drafted = image.draft(mode, (w // scale, h // scale))
        ratio = 1.0 if drafted is None else w / drafted[1][2]
    else:
        ratio = 1.0
    image.load()
    return Decoded(image if image.mode == "YCbCr" else flatten(image), original_size, ratio, to_srgb)


def _stores_ycbcr(image: Image.Image) -> bool:
    """Whether a JPEG of mode RGB stores YCbCr, by libjpeg's rule (a JFIF marker, else an Adobe marker's
    transform, else the component ids): libjpeg gives YCbCr and Y alone only from those."""
    if image.mode != "RGB":
        return False
    if "jfif" in image.info:
        return True
    if "adobe_transform" in image.info:
        return image.info["adobe_transform"] != 0
    return [layer[0] for layer in getattr(image, "layer", [])] != _RGB_COMPONENT_IDS


def _reopen(source: ImageSource) -> Image.Image:
    if hasattr(source, "seek"):
        source.seek(0)
    return Image.open(source)


def _fit(decoded: Decoded, request: TinyRequest, resampled: dict[tuple, Image.Image]) -> TinyImage:
    """Resample the decoded image's fitted region to the request's size, then its colour.

    ``resampled`` keeps the resamplings of one decode by geometry (size, fit mode, filter), so that
    requests of the same geometry share one: gray from YCbCr takes the Y of the YCbCr resampling where
    there is one (resampling Y alone gives the same bytes), else resamples the Y plane alone (less than
    half the work).
    """
    fit = fit_geometry(decoded.original_size, request.size, request.fit_mode)
    x0, y0, x1, y1 = (int(c) for c in fit.target_region)
    geometry = (request.size, request.fit_mode, request.resample)
    image = decoded.image
    if image.mode == "YCbCr" and request.color == "gray" and geometry not in resampled:
        if _Y_PLANE not in resampled:
            resampled[_Y_PLANE] = image.getchannel(0)
        image, geometry = resampled[_Y_PLANE], (*geometry, *_Y_PLANE)
    if geometry not in resampled:
        region = tuple(c / decoded.scale for c in fit.source_region)
        resampled[geometry] = image.resize((x1 - x0, y1 - y0), RESAMPLING[request.resample], box=region)
    tiny = _output_colour(resampled[geometry], request.color, decoded.to_srgb)
    return TinyImage(_placed(tiny, request.size, (x0, y0)), decoded.original_size, fit)


def _output_colour(tiny: Image.Image, color: str, to_srgb: Optional[ImageCms.ImageCmsTransform]) -> Image.Image:
    """A resampled image in its output colour: YCbCr's Y (gray) or its RGB; any other mode to sRGB, and gray
    as the BT.601 luma of that (Pillow's L conversion is BT.601)."""
    if tiny.mode == "YCbCr":  # gray: the Y of an sRGB request's resampling (_fit)
        return tiny.getchannel(0) if color == "gray" else tiny.convert("RGB")
    if tiny.mode == "L" and to_srgb is None:
        return tiny if color == "gray" else tiny.convert("RGB")
    srgb = _to_mode(tiny, "RGB", to_srgb)
    return srgb.convert("L") if color == "gray" else srgb


def _placed(tiny: Image.Image, size: tuple[int, int], corner: tuple[int, int]) -> Image.Image:
    """``tiny`` alone, or centred on black where it is smaller than ``size`` (pad); without ``info``."""
    if tiny.size != size:
        canvas = Image.new(tiny.mode, size, 0)
        canvas.paste(tiny, corner)
        tiny = canvas
    tiny.info.clear()
    return tiny


def _full_decode_tiny_images(source: ImageSource, requests: Sequence[TinyRequest]) -> list[TinyImage]:
    """The reference: decoded in full, colour-managed and converted at full resolution, then resampled."""
    with Image.open(source) as image:
        original_size = image.size
        to_srgb = _icc_transform(image)
        image.load()
        flat = flatten(image)
    converted = {color: _to_mode(flat, OUTPUT_MODES[color], to_srgb) for color in {r.color for r in requests}}
    made = []
    for request in requests:
        fit = fit_geometry(original_size, request.size, request.fit_mode)
        x0, y0, x1, y1 = (int(c) for c in fit.target_region)
        tiny = converted[request.color].resize((x1 - x0, y1 - y0), RESAMPLING[request.resample], box=fit.source_region)
        made.append(TinyImage(_placed(tiny, request.size, (x0, y0)), original_size, fit))
    return made


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
