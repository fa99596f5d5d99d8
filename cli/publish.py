"""``imagenet-tiny export`` and ``imagenet-tiny publish``: pre-made variants as a Hub dataset repository."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    del commands  # filled in by the export/publish issue
