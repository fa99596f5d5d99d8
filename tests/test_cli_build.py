"""The ``imagenet-tiny`` commands of the builder, run as a user runs them."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from builder.synthetic import write_synthetic_source
from publish.preview import preview_size
from tests import REPO_ROOT
from tests.fixtures.cli import run_console_script


@pytest.fixture(scope="module")
def synthetic(synthetic_sources):
    return synthetic_sources(per_class=(4, 2, 2))


def test_configs_lists_predefined_configs_and_the_grammar(run_cli):
    result = run_cli("configs")
    assert result.returncode == 0, result.stderr
    assert "{W}x{H}-{gray|sRGB}-{N|full}[-{crop|pad|squash}]" in result.stdout
    assert "64x64-sRGB-full" in result.stdout and "8x8-gray-5" in result.stdout


def test_generate_builds_and_says_what_it_built(synthetic, tmp_path, run_cli):
    result = run_cli("generate", "16x16-sRGB-5", "--data-dir", str(synthetic), "--cache-dir", str(tmp_path), "--num-proc", "2")
    assert result.returncode == 0, result.stderr
    assert "Built 16x16-sRGB-5: 16x16 sRGB, 5 classes, fit crop" in result.stdout
    assert "train: 20 examples" in result.stdout and "validation: 10 examples" in result.stdout
    assert "no image was skipped" in result.stdout


def test_generate_with_options(synthetic, tmp_path, run_cli):
    result = run_cli(
        "generate", "8x8-gray-2-squash", "--data-dir", str(synthetic), "--cache-dir", str(tmp_path),
        "--classes", "n01622779,n03452741", "--resample", "lanczos",
    )
    assert result.returncode == 0, result.stderr
    assert "2 classes, fit squash, resample lanczos" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["8x8-gray", "--data-dir", "."], "is not an ImageNet-tiny config name"),
        (["8x8-gray-5", "--data-dir", "/nonexistent/imagenet"], "does not exist"),
        (["8x8-gray-1", "--classes", "n09999999"], "not in"),
    ],
)
def test_generate_errors_are_one_clear_message(synthetic, tmp_path, args, message, run_cli):
    if "--data-dir" not in args:
        args = [*args, "--data-dir", str(synthetic)]
    result = run_cli("generate", *args, "--cache-dir", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_console_script_exits_2_with_the_message_and_no_traceback(tmp_path):
    """The installed ``imagenet-tiny`` itself, as a process (the other tests call ``cli.main`` in this one)."""
    result = run_console_script("generate", "8x8-gray", "--data-dir", tmp_path, "--cache-dir", tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert "is not an ImageNet-tiny config name" in result.stderr and "Traceback" not in result.stderr


def test_strict_generate_names_the_unreadable_file(tmp_path, run_cli):
    write_synthetic_source(tmp_path / "src", per_class=(2, 1, 0))
    broken = tmp_path / "src" / "ILSVRC" / "Data" / "CLS-LOC" / "train" / "n01622779" / "n01622779_1.JPEG"
    broken.write_bytes(broken.read_bytes()[:300])
    result = run_cli("generate", "8x8-gray-5", "--data-dir", str(tmp_path / "src"), "--cache-dir", str(tmp_path / "c"), "--strict")
    assert result.returncode == 2
    assert f"cannot read {broken}" in result.stderr
    lenient = run_cli("generate", "8x8-gray-5", "--data-dir", str(tmp_path / "src"), "--cache-dir", str(tmp_path / "c"))
    assert lenient.returncode == 0, lenient.stderr
    assert "Skipped 1 unreadable image(s)" in lenient.stderr and str(broken) in lenient.stderr
    assert "skipped 1 unreadable image(s), listed in" in lenient.stdout


def demo_tables(stdout: str) -> dict[str, list[list[float]]]:
    """Per config, the demo's rows: k, clsloc error, cls-only error, random clsloc, random cls-only."""
    tables, config = {}, None
    for line in stdout.splitlines():
        loading = re.match(r"3\. Loading (\S+) back", line)
        if loading:
            config = loading.group(1)
            tables[config] = []
        row = re.fullmatch(r"\s+(\d)\s+([\d.]+)\s+([\d.]+)\s+\(([\d.]+), ([\d.]+)\)", line)
        if row and config:
            tables[config].append([float(v) for v in row.groups()])
    return tables


@pytest.mark.e2e
def test_make_demo_runs_the_whole_workflow(tmp_path):
    """The README's first command; run with this environment so that it does not bootstrap another one."""
    output = tmp_path / "demo"
    result = subprocess.run(
        ["make", "demo", f"VENV={sys.prefix}", f"DEMO_OUTPUT={output}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Built 16x16-sRGB-5" in result.stdout and "Built 16x16-gray-5-pad" in result.stdout
    tables = demo_tables(result.stdout)
    assert set(tables) == {"16x16-sRGB-5", "16x16-gray-5-pad"}
    for config, rows in tables.items():
        assert [row[0] for row in rows] == [1, 2, 3, 4, 5]
        model_cls, chance_cls = np.array([row[2] for row in rows]), np.array([row[4] for row in rows])
        model_loc, chance_loc = np.array([row[1] for row in rows]), np.array([row[3] for row in rows])
        # Beats chance clearly, over the guesses that can miss (all 5 classes in 5 guesses cannot).
        assert (chance_cls[:4] - model_cls[:4]).mean() > 0.15, (config, rows)
        assert (chance_loc - model_loc).mean() > 0.1, (config, rows)
    srgb = tables["16x16-sRGB-5"]
    assert srgb[0][2] < srgb[0][4] - 0.3  # top-1, colour variant: far from chance
    export = output / "imagenet-tiny"
    assert (export / "README.md").exists() and (export / "16x16-sRGB-5" / "train-00000-of-00001.parquet").exists()
    for config in tables:
        with Image.open(export / "previews" / f"{config}.png") as preview:
            assert preview.format == "PNG" and preview.size == preview_size(5)
