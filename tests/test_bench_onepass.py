"""The one-pass benchmark keeps working: every section runs on a handful of images (no timing is asserted)."""

from __future__ import annotations

import json
import math

import pytest

import bench_onepass
from tests import REPO_ROOT


@pytest.mark.e2e
def test_one_pass_benchmark_runs_every_section_on_a_few_images(sample_dir, tmp_path, capsys):
    output = tmp_path / "figures.json"
    results = bench_onepass.main([  # "today's code": this checkout itself, which the section only has to run
        str(sample_dir), "--limit", "6", "--repeats", "1", "--memory-sizes", "20,40", "--work-dir", str(tmp_path),
        "--json", str(output), "--today", str(REPO_ROOT), "--today-rounds", "1",
    ])
    printed = capsys.readouterr().out
    assert json.loads(output.read_text()).keys() == results.keys()
    assert set(results["one_pass"]["seconds"]) == {*bench_onepass.EIGHT, "the 8 in one pass", "the 4 in one pass"}
    assert math.isfinite(results["one_pass"]["eight_ratio"]) and math.isfinite(results["one_pass"]["mixed_ratio"])
    for ratio in ("one pass of the 8 / their single builds = ", "one pass of the 4 / 64x64-sRGB-full alone = ",
                  "built alone, this code / today's = ", "one pass of the 8 / their single builds today = "):
        assert ratio in printed
    assert results["all_predefined"]["configs"] == 32 and "ImageNet train+val (1,331,167 images), all 32 configs" in printed
    assert set(results["today"]) == {"today", "this"} and set(results["today"]["today"]) == set(bench_onepass.EIGHT)
    assert len(results["writer_batch"]) == 3
    assert set(results["memory"]["images"]) == {20, 40} and set(results["memory"]["configs"]) == {1, 8, 16}
    assert "a config from 8 to 16" in printed
    assert [p.name for p in tmp_path.iterdir()] == ["figures.json"]  # scratch space cleaned up
