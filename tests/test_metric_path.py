"""``evaluate.load(imagenet_tiny.METRIC_PATH)`` works from any working directory, editable install or not.

Each check runs in a fresh interpreter whose working directory is a temporary folder outside the
repository, with its own Hugging Face cache (evaluate copies the metric script into it) and offline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import REPO_ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+: reads pyproject.toml for what a build includes

# What a user types; top-1 labels, one of two right: top-1 error 0.5.
LOAD_AND_SCORE = """
import json
import evaluate
import imagenet_tiny
clsloc = evaluate.load(imagenet_tiny.METRIC_PATH)
result = clsloc.compute(predictions=[7, 2], references=[7, 1], max_guesses=1)
print(json.dumps({"module": imagenet_tiny.__file__, "metric_path": imagenet_tiny.METRIC_PATH, "result": result}))
"""


def load_and_score(cwd: Path, hf_home: Path, pythonpath: str | None = None) -> dict:
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run(
        [sys.executable, "-c", LOAD_AND_SCORE], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_metric_path_works_from_another_directory(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert not (elsewhere / "metrics").exists()  # the relative "metrics/imagenet_clsloc" cannot resolve here
    loaded = load_and_score(elsewhere, tmp_path / "hf")
    assert loaded["result"] == {"cls_error": [0.5], "top1_error": 0.5}
    assert Path(loaded["metric_path"]) == REPO_ROOT / "metrics" / "imagenet_clsloc"  # the development install
    assert Path(loaded["metric_path"]).is_absolute()


def _copy_build_sources(destination: Path) -> Path:
    """The files a build of the project reads: pyproject.toml, the readme, the modules and packages it names.

    Built from a copy, so that setuptools' build/ and egg-info stay out of the working tree.
    """
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    setuptools = config["tool"]["setuptools"]
    destination.mkdir()
    for name in ["pyproject.toml", config["project"]["readme"], *(f"{m}.py" for m in setuptools["py-modules"])]:
        shutil.copy2(REPO_ROOT / name, destination / name)
    for pattern in setuptools["packages"]["find"]["include"]:
        top = pattern.removesuffix("*")
        shutil.copytree(REPO_ROOT / top, destination / top, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


@pytest.mark.e2e
def test_metric_path_works_after_a_regular_install(tmp_path):
    """A real (non-editable) install: the metric script and its card are package data, found from anywhere."""
    source = _copy_build_sources(tmp_path / "source")
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    installed_metric = target / "metrics" / "imagenet_clsloc"
    assert (installed_metric / "imagenet_clsloc.py").is_file() and (installed_metric / "README.md").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    loaded = load_and_score(elsewhere, tmp_path / "hf", pythonpath=str(target))
    assert Path(loaded["module"]) == target / "imagenet_tiny.py"  # the installed copy, not the repository's
    assert Path(loaded["metric_path"]) == installed_metric
    assert loaded["result"] == {"cls_error": [0.5], "top1_error": 0.5}
