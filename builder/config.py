"""ImageNet-tiny configs and their name grammar ``{W}x{H}-{gray|sRGB}-{N|full}[-{crop|pad|squash}]``."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Optional, Sequence

import datasets

from builder.classes import WNID_PATTERN
from builder.errors import ImageNetTinyError
from builder.geometry import FIT_MODES

COLORS = ("gray", "sRGB")
RESAMPLE_FILTERS = ("box", "lanczos", "bicubic", "bilinear", "hamming", "nearest")
PREDEFINED_SIZES = (8, 16, 32, 64)
PREDEFINED_CLASS_COUNTS: tuple[Optional[int], ...] = (5, 10, 100, None)  # None: all 1000
MAX_SIZE = 1024

# ASCII digits only: \d would take any Unicode digit ('８x８' or '١٠').
NAME_PATTERN = re.compile(
    r"(?P<width>[1-9][0-9]*)x(?P<height>[1-9][0-9]*)-(?P<color>gray|sRGB)-(?P<classes>[1-9][0-9]*|full)"
    r"(?:-(?P<fit_mode>crop|pad|squash))?"
)

GRAMMAR = """\
Config names: {W}x{H}-{gray|sRGB}-{N|full}[-{crop|pad|squash}]
  {W}x{H}   image width x height in pixels, e.g. 8x8, 16x16, 32x32, 64x64, 48x32
  gray      one channel, ITU-R BT.601 luma of the sRGB image
  sRGB      three channels, colour-managed to sRGB
  N         number of classes: 5 is the Matlab version's selection (n01622779 n01773157 n01944390
            n02676566 n03452741); other N take N classes evenly spaced over the sorted WNIDs;
            full is all 1000 (and adds the test split when the source has one)
  crop      keep the aspect ratio, take the centre (default)
  pad       keep the aspect ratio, centre on black
  squash    ignore the aspect ratio
Examples: 8x8-gray-5, 16x16-sRGB-full, 32x32-sRGB-100-pad, 64x48-gray-10-squash"""

# Attributes that the name spells out; anything else set by keyword makes a variant of the named config.
NAME_FIELDS = ("width", "height", "color", "num_classes", "fit_mode")


class ConfigNameError(ImageNetTinyError, ValueError):
    """A config name that does not fit the grammar, or keywords that contradict it."""


@dataclasses.dataclass
class ImageNetTinyConfig(datasets.BuilderConfig):
    """One ImageNet-tiny variant: image size, colour, classes, fit mode and resampling filter."""

    width: int = 32
    height: int = 32
    color: str = "sRGB"
    num_classes: Optional[int] = None
    fit_mode: str = "crop"
    resample: str = "box"
    classes: Optional[Sequence[str]] = None

    def __post_init__(self) -> None:
        if self.name == "default":
            self.name = config_name(self.width, self.height, self.color, self.num_classes, self.fit_mode)
        super().__post_init__()
        problems = []
        if not (1 <= self.width <= MAX_SIZE and 1 <= self.height <= MAX_SIZE):
            problems.append(f"size {self.width}x{self.height} is outside 1..{MAX_SIZE}")
        if self.color not in COLORS:
            problems.append(f"color {self.color!r} is not one of {', '.join(COLORS)}")
        if self.fit_mode not in FIT_MODES:
            problems.append(f"fit_mode {self.fit_mode!r} is not one of {', '.join(FIT_MODES)}")
        if self.resample not in RESAMPLE_FILTERS:
            problems.append(f"resample {self.resample!r} is not one of {', '.join(RESAMPLE_FILTERS)}")
        if self.classes is not None:
            self.classes = tuple(self.classes)
            bad = [c for c in self.classes if not isinstance(c, str) or not WNID_PATTERN.fullmatch(c)]
            if bad:
                problems.append(f"classes must be WNIDs like 'n01440764', got {bad[:5]}")
            if len(set(self.classes)) != len(self.classes):
                problems.append("classes lists a WNID twice")
            if self.num_classes is None:
                problems.append(f"an explicit class list needs N in the name, not 'full' (here N={len(self.classes)})")
            elif len(self.classes) != self.num_classes:
                problems.append(f"the name says {self.num_classes} classes but classes lists {len(self.classes)}")
        if problems:
            raise ConfigNameError(f"config {self.name!r}: " + "; ".join(problems) + "\n\n" + GRAMMAR)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @classmethod
    def from_name(cls, name: str, **kwargs: Any) -> "ImageNetTinyConfig":
        """The config a name stands for; ``kwargs`` set the attributes the name does not spell out."""
        fields = parse_config_name(name)
        clash = sorted(k for k in NAME_FIELDS if k in kwargs and kwargs[k] != fields[k])
        if clash:
            raise ConfigNameError(f"config {name!r}: {', '.join(clash)} contradict(s) the name\n\n{GRAMMAR}")
        kwargs.pop("name", None)
        return cls(name=config_name(**fields), **{**kwargs, **fields})

    def create_config_id(
        self,
        config_kwargs: dict,
        custom_features: Optional[datasets.Features] = None,
        build_of: Optional[dict[str, str]] = None,
    ) -> str:
        """The cache id: the name, and a digest of the other keywords (which make a variant) and of
        ``build_of``, what the build is made from (``ImageNetTiny`` gives the download's resolved path and
        fingerprint; ``data_dir`` as typed would name another folder from another working directory)."""
        extra = {k: v for k, v in config_kwargs.items() if k not in NAME_FIELDS and k != "data_dir"}
        return super().create_config_id({**extra, **(build_of or {})}, custom_features=custom_features)


def parse_config_name(name: str) -> dict[str, Any]:
    """Split a config name into its fields, or explain the grammar."""
    match = NAME_PATTERN.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ConfigNameError(f"{name!r} is not an ImageNet-tiny config name.\n\n{GRAMMAR}")
    classes = match["classes"]
    return {
        "width": int(match["width"]),
        "height": int(match["height"]),
        "color": match["color"],
        "num_classes": None if classes == "full" else int(classes),
        "fit_mode": match["fit_mode"] or "crop",
    }


def config_name(width: int, height: int, color: str, num_classes: Optional[int], fit_mode: str = "crop") -> str:
    """The canonical name (``crop`` is the default and is left out)."""
    name = f"{width}x{height}-{color}-{'full' if num_classes is None else num_classes}"
    return name if fit_mode == "crop" else f"{name}-{fit_mode}"


def predefined_configs(version: str) -> list[ImageNetTinyConfig]:
    """Sizes 8, 16, 32, 64 x gray, sRGB x 5, 10, 100, full classes, all cropped."""
    return [
        ImageNetTinyConfig(
            name=config_name(size, size, color, classes),
            version=datasets.Version(version),
            width=size,
            height=size,
            color=color,
            num_classes=classes,
        )
        for size in PREDEFINED_SIZES
        for color in COLORS
        for classes in PREDEFINED_CLASS_COUNTS
    ]
