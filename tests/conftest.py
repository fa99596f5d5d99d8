"""The suite's fixtures come from the modules of ``tests/fixtures/``, registered here as datasets' tests do.

Markers (declared in pyproject.toml, checked with --strict-markers) sort out the slow tiers: ``make test``
leaves them out, ``make test-all`` runs everything.
"""

import os

# Set before anything imports datasets, which reads it once: CLI output captured in this process (and
# that of the subprocesses, which inherit it) is what a user's terminal shows, without progress bars.
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

pytest_plugins = [
    "tests.fixtures.shared",
    "tests.fixtures.sources",
    "tests.fixtures.cli",
    "tests.fixtures.hub",
    "tests.fixtures.slurm",
    "tests.fixtures.metric_inputs",
]
