"""A user's ImageNet download, whatever its layout: which images each split has, their classes and boxes.

``open_source(data_dir)`` recognises:
- the Kaggle layout (``ILSVRC/Data/CLS-LOC/...`` with ``LOC_*.csv``), extracted or as Kaggle's zip itself:
  :mod:`builder.sources.kaggle`;
- the devkit-era layout (``ILSVRC2012_img_*`` with ``ILSVRC2014_devkit``), extracted or as the original
  tar files: :mod:`builder.sources.devkit`.
Archives are read in place: :mod:`builder.sources.archives`.
"""

from __future__ import annotations

import os

from builder.sources.archives import ArchiveError, FolderFiles, ZipFiles, forget_changed_archives
from builder.sources.base import Source, SourceImage, SourceLayoutError
from builder.sources.devkit import DevkitSource
from builder.sources.kaggle import KaggleSource

LAYOUTS: tuple[type[Source], ...] = (KaggleSource, DevkitSource)

__all__ = ["LAYOUTS", "ArchiveError", "Source", "SourceImage", "SourceLayoutError", "no_data_dir", "open_source"]


def open_source(data_dir: str | os.PathLike) -> Source:
    """The source at ``data_dir``, or an error that says which layouts were expected and what is missing."""
    if data_dir is None:
        raise no_data_dir()
    data_dir = os.path.abspath(os.path.expanduser(os.fspath(data_dir)))
    forget_changed_archives()  # a download replaced in place is read anew, not through an old descriptor
    if not os.path.exists(data_dir):
        raise SourceLayoutError(f"data_dir {data_dir} does not exist\n\n" + _layouts_help())
    if not os.path.isdir(data_dir) and not data_dir.lower().endswith(".zip"):
        raise SourceLayoutError(f"data_dir {data_dir} is neither a folder nor a .zip archive\n\n" + _layouts_help())
    if os.path.isdir(data_dir):
        candidates = [(layout, FolderFiles(data_dir, layout.ARCHIVES)) for layout in LAYOUTS]
    else:
        archive = ZipFiles(data_dir, tuple(m for layout in LAYOUTS for m in layout.ZIP_MARKERS))
        candidates = [(layout, archive) for layout in LAYOUTS]
    for layout, files in candidates:
        if layout.looks_like(files):
            return layout(files)
    found = files.top_names()
    shown = ", ".join(found[:12]) + (" ..." if len(found) > 12 else "") if found else "nothing"
    raise SourceLayoutError(
        f"data_dir {data_dir} is not an ImageNet download in a known layout (it holds: {shown})\n\n" + _layouts_help()
    )


def no_data_dir() -> SourceLayoutError:
    """The error for a build without a download."""
    return SourceLayoutError("no data_dir given: point data_dir at your ImageNet download\n\n" + _layouts_help())


def _layouts_help() -> str:
    return "Expected one of these layouts:\n" + "\n".join(layout.LAYOUT_HELP for layout in LAYOUTS)
