"""ImageNet-tiny's tests: a package, so that its helpers are imported as ``tests.<module>``.

Fixtures shared by several test modules live in ``tests/fixtures/`` (registered in ``conftest.py``);
helpers that are not fixtures (the local Hub, the SLURM cluster, README sections, independent
expectations) are modules of this package. No test module imports another.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"  # the real ImageNet sample and ILSVRC metadata, beside the repository
