"""Fixtures shared by the whole suite.

``../shared`` (beside the repository) holds real ImageNet sample images and ILSVRC metadata. Tests that
need it skip with a reason where it is absent (a user's fresh clone), and fail under CI, where it must be.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"


def _shared_path(*parts: str) -> Path:
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        message = f"{path} is absent: the shared ImageNet sample and ILSVRC metadata are needed"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (and CI must have them)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """1000 real ImageNet JPEGs, one per class, named ``<wnid>_<name>.JPEG``."""
    return _shared_path("imagenet-sample")


@pytest.fixture(scope="session")
def ilsvrc_dir() -> Path:
    """Real ILSVRC metadata: LOC_synset_mapping.txt, LOC_val_solution.csv, the devkit ground truth, meta_clsloc.tsv."""
    return _shared_path("ilsvrc")
