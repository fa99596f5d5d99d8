"""A user's ImageNet download, whatever its layout: which images each split has, their classes and boxes.

``open_source(data_dir)`` recognises:
- the Kaggle layout (``ILSVRC/Data/CLS-LOC/...`` with ``LOC_*.csv``), extracted or as Kaggle's zip itself:
  :mod:`builder.sources.kaggle`;
- the devkit-era layout (``ILSVRC2012_img_*`` with ``ILSVRC2014_devkit``), extracted or as the original
  tar files: :mod:`builder.sources.devkit`;
- the Hugging Face Hub's copies (``ILSVRC/imagenet-1k``, ``timm/imagenet-1k-wds``), a local snapshot or
  the repository itself as ``hf://datasets/OWNER/NAME``: :mod:`builder.sources.hub`. These are built
  shard by shard (``builder.staging``), not listed image by image as the others.
Archives are read in place: :mod:`builder.sources.archives`.
"""

from __future__ import annotations

import os
from typing import Optional, Union

from builder.errors import InputError
from builder.sources.archives import ArchiveError, FolderFiles, ZipFiles, forget_changed_archives
from builder.sources.base import Source, SourceImage, SourceLayoutError
from builder.sources.devkit import DevkitSource
from builder.sources.hub import HubSource, is_hub_url, open_hub_repo, open_hub_snapshot
from builder.sources.hub_layouts import LAYOUT_HELP as HUB_LAYOUTS_HELP
from builder.sources.kaggle import KaggleSource

LAYOUTS: tuple[type[Source], ...] = (KaggleSource, DevkitSource)

__all__ = [
    "LAYOUTS", "ArchiveError", "HubSource", "Source", "SourceImage", "SourceLayoutError", "no_data_dir", "open_source",
]


def open_source(
    data_dir: str | os.PathLike, revision: Optional[str] = None, token: Optional[str] = None
) -> Union[Source, HubSource]:
    """The source at ``data_dir``, or an error that says which layouts were expected and what is missing.

    ``hf://datasets/OWNER/NAME`` is a Hub repository (at ``revision``, read with ``token`` where given).
    """
    if data_dir is None:
        raise no_data_dir()
    if is_hub_url(data_dir):
        return open_hub_repo(data_dir, revision, token)
    if revision is not None:
        raise InputError(f"revision={revision!r} is for a Hub repository (hf://datasets/OWNER/NAME), not the folder {data_dir}")
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
    hub = open_hub_snapshot(data_dir) if os.path.isdir(data_dir) else None
    if hub is not None:
        return hub
    found = files.top_names()
    shown = ", ".join(found[:12]) + (" ..." if len(found) > 12 else "") if found else "nothing"
    raise SourceLayoutError(
        f"data_dir {data_dir} is not an ImageNet download in a known layout (it holds: {shown})\n\n" + _layouts_help()
    )


def no_data_dir() -> SourceLayoutError:
    """The error for a build without a download."""
    return SourceLayoutError("no data_dir given: point data_dir at your ImageNet download\n\n" + _layouts_help())


def _layouts_help() -> str:
    return "Expected one of these layouts:\n" + "\n".join([layout.LAYOUT_HELP for layout in LAYOUTS] + [HUB_LAYOUTS_HELP])
