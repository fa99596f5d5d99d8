"""The README, a section at a time, for the tests that run what it shows."""

from __future__ import annotations

import re

from conftest import REPO_ROOT


def readme_section(title: str) -> str:
    """The text of the ``## `` section whose title starts with ``title``, up to the next ``## `` heading."""
    text = (REPO_ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(title)}.*?(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    if match is None:
        raise AssertionError(f"README.md has no section '## {title}...'")
    return match.group(0)
