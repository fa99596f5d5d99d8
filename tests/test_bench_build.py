"""The build benchmark keeps working: every section runs on a handful of images (no timing is asserted)."""

from __future__ import annotations

import json
import math

import bench_build
import pytest


@pytest.mark.benchmark
def test_benchmark_runs_every_section_on_a_few_images(sample_dir, tmp_path, capsys):
    output = tmp_path / "figures.json"
    results = bench_build.main(
        [
            str(sample_dir), "--limit", "6", "--repeats", "1", "--scaling-copies", "1",
            "--memory-sizes", "20,40", "--work-dir", str(tmp_path), "--json", str(output),
        ]
    )
    printed = capsys.readouterr().out
    assert json.loads(output.read_text()) == json.loads(json.dumps(results))
    for config in bench_build.DEFAULT_CONFIGS:
        row = results["configs"][config]
        for key in ("floor_s", "builder_marginal_s", "naive_s", "naive_box_s"):
            assert math.isfinite(row[key]), (config, key)  # figures of 6 images are noise: no value asserted
        assert f"== {config}" in printed
    for ratio in ("builder / floor = ", "naive / builder = ", "bounds for any builder"):
        assert ratio in printed
    if bench_build.imagemagick():
        assert "ImageMagick / builder = " in printed and "-gravity center -extent 32x32 OUT.bmp" in printed
    else:
        assert "ImageMagick: skipped" in printed
    assert set(results["scaling"]["speedup"]) == set(range(1, len(results["scaling"]["speedup"]) + 1))
    assert results["loading"]["shape"] == [12, 32, 32, 3]  # the folder twice over
    assert set(results["memory"]) == {20, 40} and results["memory"][40]["peak_rss_bytes"] > 0
    assert results["archive"]["images"] == 6
    assert "projected for ImageNet's 1,281,167 training images" in printed
    assert "peak RSS ratio 40/20 images" in printed
    assert list(tmp_path.iterdir()) == [output]  # scratch space cleaned up


def test_imagemagick_arguments_are_the_matlab_centre_crop():
    from builder.config import ImageNetTinyConfig

    gray = bench_build.imagemagick_arguments("in.JPEG", "out.bmp", ImageNetTinyConfig.from_name("8x8-gray-5"))
    assert gray == ["in.JPEG", "-colorspace", "Gray", "-resize", "8x8^", "-gravity", "center", "-extent", "8x8", "out.bmp"]
    rgb = bench_build.imagemagick_arguments("in.JPEG", "out.bmp", ImageNetTinyConfig.from_name("32x16-sRGB-5"))
    assert rgb == ["in.JPEG", "-resize", "32x16^", "-gravity", "center", "-extent", "32x16", "out.bmp"]


@pytest.mark.benchmark
def test_sections_can_be_left_out(sample_dir, tmp_path, capsys):
    results = bench_build.main(
        [str(sample_dir), "--limit", "3", "--repeats", "1", "--configs", "8x8-gray-full", "--no-imagemagick",
         "--skip", "scaling,memory,loading,archive", "--work-dir", str(tmp_path)]
    )
    printed = capsys.readouterr().out
    assert set(results) == {"machine", "import_s", "configs", "projection"}
    assert "ImageMagick: skipped (--no-imagemagick" in printed and "== num_proc scaling" not in printed
