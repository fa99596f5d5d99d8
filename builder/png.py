"""The tiny images' PNG encoding: rows stored uncompressed, so that a whole column decodes as one copy.

Every image of a config has the same size and mode, and :func:`encode_png` writes each one with the same
byte layout: signature, ``IHDR``, one ``IDAT`` whose zlib stream holds the rows (filter type None) in
stored (uncompressed) deflate blocks, ``IEND``. The pixels of image *i* then sit at the same offsets of
every PNG, and a column of N such PNGs in an Arrow buffer (equal lengths, so at equal strides) is an
``(N, length)`` array whose pixel columns :func:`decode_png_column` copies out: memory speed, where
decoding one PNG at a time costs about 35 us each in Python and Pillow.

It is still an ordinary PNG (the Hub's viewer, Pillow, ``datasets.Image`` and timm read it); the space
that compression would save is won back by compressing the Parquet files (zstd) on export, where it
compresses across images (``benchmarks/bench_arrays.py`` prints both sizes). It is also about 10x faster
to write than Pillow's compressed PNG.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
import zlib
import numpy as np
from PIL import Image

from builder.errors import InputError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOR_TYPES = {"L": 0, "RGB": 2}  # PNG colour type of each mode we write, 8 bits per sample
CHANNELS = {"L": 1, "RGB": 3}
_MAX_STORED_BLOCK = 0xFFFF  # deflate's stored blocks hold at most this many bytes
_CHUNK = 1024  # PNGs copied at a time (measured: 0.25 us per 32x32 image, against 0.6 us all at once)


def encode_png(image: Image.Image) -> bytes:
    """The PNG of an 8-bit ``L`` or ``RGB`` image, in the fixed layout (deterministic: no time, no text)."""
    if image.mode not in COLOR_TYPES:
        raise InputError(f"tiny images are L or RGB, not {image.mode}")
    width, height = image.size
    rows = np.zeros((height, 1 + width * CHANNELS[image.mode]), np.uint8)  # column 0: filter type None
    rows[:, 1:] = np.asarray(image).reshape(height, -1)
    return _png(width, height, image.mode, rows.tobytes())


def _png(width: int, height: int, mode: str, raw_rows: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, COLOR_TYPES[mode], 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", _stored_zlib(raw_rows)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _stored_zlib(data: bytes) -> bytes:
    """A zlib stream of ``data`` in stored blocks, cut at fixed places (zlib's own level 0 may cut elsewhere)."""
    blocks = []
    for start in range(0, max(len(data), 1), _MAX_STORED_BLOCK):
        block = data[start : start + _MAX_STORED_BLOCK]
        final = start + _MAX_STORED_BLOCK >= len(data)
        blocks.append(struct.pack("<BHH", final, len(block), len(block) ^ 0xFFFF) + block)
    return b"\x78\x01" + b"".join(blocks) + struct.pack(">I", zlib.adler32(data))


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where things are in the fixed-layout PNG of one size and mode."""

    length: int  # bytes of the whole PNG
    template: np.ndarray  # the PNG of an all-black image
    fixed: np.ndarray  # offsets whose bytes are the same in every PNG of this layout
    runs: tuple[tuple[int, int, int], ...]  # (offset in the PNG, offset in the pixels, length): pixel bytes
    idat: tuple[int, int]  # offset and length of the IDAT chunk's type and data, which its CRC covers


@functools.lru_cache(maxsize=32)
def layout(width: int, height: int, mode: str) -> Layout:
    row = width * CHANNELS[mode]
    template = np.frombuffer(_png(width, height, mode, bytes(height * (1 + row))), np.uint8)
    idat_data = len(SIGNATURE) + 25 + 8  # signature, the IHDR chunk, the IDAT chunk's length and type
    is_pixel = np.zeros(len(template), bool)
    runs = []
    for y in range(height):
        raw_start = y * (1 + row) + 1  # past the row's filter byte
        run_start = raw_start
        while run_start < raw_start + row:  # a row may straddle two stored blocks
            block = run_start // _MAX_STORED_BLOCK
            block_end = min((block + 1) * _MAX_STORED_BLOCK, raw_start + row)
            offset = idat_data + 2 + 5 * (block + 1) + run_start  # zlib header, the stored-block headers so far
            runs.append((offset, y * row + run_start - raw_start, block_end - run_start))
            is_pixel[offset : offset + block_end - run_start] = True
            run_start = block_end
    checksums = np.zeros(len(template), bool)
    idat_end = len(template) - 12 - 4  # before IEND and the IDAT chunk's CRC
    checksums[idat_end - 4 : idat_end + 4] = True  # zlib's adler32 and the chunk's CRC depend on the pixels
    fixed = np.flatnonzero(~is_pixel & ~checksums)
    return Layout(len(template), template, fixed, tuple(runs), (idat_data - 4, idat_end - idat_data + 4))


def decode_png_column(
    data: np.ndarray, offsets: np.ndarray, width: int, height: int, mode: str, out: np.ndarray
) -> bool:
    """Copy the pixels of N fixed-layout PNGs into ``out`` ``(N, height, width, channels)``.

    ``data`` is the bytes of an Arrow binary array and ``offsets`` its N + 1 value offsets. Returns False,
    having written nothing, when some PNG is not in the layout of ``width`` x ``height`` ``mode`` (another
    encoder wrote it), so that the caller decodes those PNGs one by one; raises ``ValueError`` when a PNG
    is in the layout but its IDAT checksum fails (corrupt bytes).
    """
    shape = layout(width, height, mode)
    count = len(offsets) - 1
    if count == 0:
        return True
    start = int(offsets[0])
    if not (np.diff(offsets) == shape.length).all():
        return False
    pngs = data[start : start + count * shape.length].reshape(count, shape.length)
    if not (pngs[:, shape.fixed] == shape.template[shape.fixed]).all():
        return False
    _check_crcs(pngs, shape)
    for chunk in range(0, count, _CHUNK):  # a chunk of PNGs stays in the CPU cache while it is copied
        _copy_pixels(pngs[chunk : chunk + _CHUNK], shape, out[chunk : chunk + _CHUNK])
    return True


def _copy_pixels(pngs: np.ndarray, shape: Layout, out: np.ndarray) -> None:
    count, height = out.shape[:2]
    row = out[0, 0].size  # bytes of pixels per image row
    (first, _, _), *_ = shape.runs
    if len(shape.runs) == height:  # one stored block: the rows follow each other, a filter byte apart
        rows = pngs[:, first - 1 : first - 1 + height * (row + 1)].reshape(count, height, row + 1)
        out.reshape(count, height, row)[:] = rows[:, :, 1:]
        return
    pixels = out.reshape(count, -1)
    for offset, pixel_offset, length in shape.runs:
        pixels[:, pixel_offset : pixel_offset + length] = pngs[:, offset : offset + length]


def _check_crcs(pngs: np.ndarray, shape: Layout) -> None:
    begin, length = shape.idat
    stored = pngs[:, begin + length : begin + length + 4].copy().view(">u4").ravel()
    for row, (png, expected) in enumerate(zip(pngs, stored.tolist())):
        if zlib.crc32(png[begin : begin + length]) != expected:
            raise ValueError(f"image {row} of the column is corrupt: its IDAT chunk fails its CRC")
