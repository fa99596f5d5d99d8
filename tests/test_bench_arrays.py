"""The arrays benchmark keeps working: every section runs on a few rows (no timing is asserted)."""

from __future__ import annotations

import math

import bench_arrays
import pytest


@pytest.mark.benchmark
def test_benchmark_prints_every_ratio_on_a_few_rows(sample_dir, tmp_path, capsys):
    results = bench_arrays.main([str(sample_dir), "--rows", "1200", "--sizes", "16,8", "--repeats", "1", "--work-dir", str(tmp_path)])
    printed = capsys.readouterr().out
    assert set(results["sizes"]) == {16, 8} and all(row["today_bytes"] > 0 for row in results["sizes"].values())
    for ratio in ("load_arrays cached + copy / np.copy", "images_array before / load_arrays first, today",
                  "first call's peak memory (anonymous) / array"):
        assert f"{ratio} = " in printed and math.isfinite(results["ratios"][ratio])
    assert "16x16-sRGB-full: Parquet" in printed and "8x8-sRGB-full: Parquet" in printed
    assert list(tmp_path.iterdir()) == []  # scratch space cleaned up
