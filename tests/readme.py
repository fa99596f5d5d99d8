"""The README, read the way the tests that run what it shows need it: a section, its commands, its examples."""

from __future__ import annotations

import re
import textwrap

from tests import REPO_ROOT

README = REPO_ROOT / "README.md"


def readme_section(title: str) -> str:
    """The text of the ``## `` section whose title starts with ``title``, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}.*?(?=^## |\Z)", README.read_text(), re.MULTILINE | re.DOTALL)
    if match is None:
        raise AssertionError(f"README.md has no section '## {title}...'")
    return match.group(0)


def readme_commands() -> list[str]:
    """The commands of the ```sh blocks, continuation lines joined, comments left out."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(), re.DOTALL):
        for line in re.sub(r"\\\n\s*", " ", textwrap.dedent(block)).splitlines():
            command = " ".join(re.split(r"\s+#", line)[0].split())
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def readme_python_blocks(before: str) -> list[str]:
    """The ```python blocks of the README up to the section ``before`` (a heading, such as '## Evaluation')."""
    return re.findall(r"```python\n(.*?)```", README.read_text().split(before)[0], re.DOTALL)
