"""``imagenet-tiny evaluate`` and ``imagenet-tiny subset``: the devkit evaluation workflow (metric issue)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    del commands  # filled in with the metric's file-based workflow
