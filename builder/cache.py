"""Which download a build was made from, so that a build is reused only for the same download.

datasets keys a build by its config id; ImageNet-tiny's holds the download's resolved path and a
fingerprint of what is there (``Source.fingerprint``: names, sizes and modification times of the files
the build reads, or of the archives holding them), not ``data_dir`` as typed. Each finished build keeps
``source.json`` beside its data: the path, the fingerprint and the variant (the config id without the
download). When a build starts, the records of the same variant and path with another fingerprint say
that the download changed since those builds, which stay in the cache until removed.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os

RECORD_NAME = "source.json"


@dataclasses.dataclass(frozen=True)
class BuildOrigin:
    """A build's download (``path``, resolved), what was there (``fingerprint``) and its ``variant``."""

    path: str
    fingerprint: str
    variant: str

    def key(self) -> dict[str, str]:
        """What the config id must hold of the download."""
        return {"source": self.path, "fingerprint": self.fingerprint}


def write_record(build_dir: str, origin: BuildOrigin) -> None:
    with open(os.path.join(build_dir, RECORD_NAME), "w", encoding="utf-8") as f:
        json.dump(dataclasses.asdict(origin), f, indent=1)


def changed_since(builds_root: str, origin: BuildOrigin, build_dir: str) -> list[str]:
    """The builds under ``builds_root`` of the same variant and download path but another fingerprint
    (not ``build_dir`` itself), most recent first."""
    found = []
    for record in glob.glob(os.path.join(glob.escape(builds_root), "**", RECORD_NAME), recursive=True):
        try:
            with open(record, encoding="utf-8") as f:
                earlier = BuildOrigin(**json.load(f))
            written = os.path.getmtime(record)
        except (OSError, ValueError, TypeError):
            continue  # not a record of ours, or one being written or removed: it says nothing of this download
        folder = os.path.dirname(record)
        if (earlier.path, earlier.variant) == (origin.path, origin.variant) and earlier != origin and folder != build_dir:
            found.append((written, folder))
    return [folder for _, folder in sorted(found, reverse=True)]


def changed_message(origin: BuildOrigin, earlier: list[str], build_dir: str) -> str:
    more = f" (and {len(earlier) - 1} earlier build(s))" if len(earlier) > 1 else ""
    return (
        f"The download at {origin.path} changed since the build in {earlier[0]}{more}: building anew in {build_dir}. "
        "The earlier build stays in the cache; remove it to free its space."
    )
