"""The code's layers import only downward, as the data flows: a module sees what is below it, never above.

    builder/                 sources, transform, geometry, classes, the tiny PNGs, arrays
    imagenet_tiny.py         the datasets builder            metrics/   the ILSVRC metric and its files
    publish/                 export, card, Hub, cluster builds
    demo/                    the whole workflow on a synthetic source
    cli/                     argparse and printing

``imagenet_tiny`` and ``metrics`` sit side by side and do not import each other. The metric module itself
is loaded alone by ``evaluate``: it imports only the standard library, numpy, datasets and evaluate.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests import REPO_ROOT

LAYERS = {"builder": 0, "imagenet_tiny": 1, "metrics": 1, "publish": 2, "demo": 3, "cli": 4}
METRIC_MODULE = REPO_ROOT / "metrics" / "imagenet_clsloc" / "imagenet_clsloc.py"
METRIC_IMPORTS = {"datasets", "evaluate", "numpy"}


def first_party_files() -> list[Path]:
    files = [REPO_ROOT / "imagenet_tiny.py"]
    for package in LAYERS:
        files += sorted((REPO_ROOT / package).rglob("*.py")) if (REPO_ROOT / package).is_dir() else []
    return files


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every absolute import of a file, at any depth (function-level imports too), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def upward_imports(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """The imports of ``path`` that reach its own layer (another package) or one above."""
    own = path.relative_to(root).parts[0].removesuffix(".py")
    return [
        f"{path.relative_to(root)}:{line} imports {module} ({module.split('.')[0]} is not below {own})"
        for line, module in imported_modules(path)
        if module.split(".")[0] in LAYERS
        and module.split(".")[0] != own
        and LAYERS[module.split(".")[0]] >= LAYERS[own]
    ]


@pytest.mark.parametrize("path", first_party_files(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_imports_go_down_the_layers(path):
    assert not upward_imports(path), "\n".join(upward_imports(path))


def test_an_upward_import_is_seen(tmp_path):
    """The check above cannot pass vacuously: a builder module importing publish, even in a function, is caught."""
    bad = tmp_path / "builder" / "bad.py"
    bad.parent.mkdir()
    bad.write_text("import numpy\nfrom builder import png\n\n\ndef f():\n    from publish.export import export\n")
    assert upward_imports(bad, tmp_path) == ["builder/bad.py:6 imports publish.export (publish is not below builder)"]


def test_the_metric_module_stands_alone():
    outside = sorted(
        {module.split(".")[0] for _, module in imported_modules(METRIC_MODULE)}
        - METRIC_IMPORTS
        - set(sys.stdlib_module_names)
    )
    assert not outside, f"{METRIC_MODULE.name} imports {outside}: evaluate loads it without the rest of the package"
    # evaluate 0.4 reads a metric script's imports line by line: one module per import line.
    assert all("," not in line for line in METRIC_MODULE.read_text().splitlines() if line.startswith("import "))
