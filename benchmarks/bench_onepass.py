"""Many variants in one pass over the source against the same variants built one by one, on real JPEGs.

    python benchmarks/bench_onepass.py [FOLDER] [options]       (FOLDER default: ../shared/imagenet-sample)

Every figure of a run comes from the same JPEGs on the same machine (each timing the best of --repeats,
the runs interleaved), so the ratios hold where the absolute numbers do not:

- the 8 size x colour configs of one class set (8 to 64, gray and sRGB, full) in one pass, against the
  sum of their single builds, each built alone in the same run (target: at most 0.4);
- 8x8-gray, 16x16-sRGB, 32x32-sRGB and 64x64-sRGB (full) in one pass, against 64x64-sRGB-full built
  alone (target: at most 1.6);
- all 32 predefined configs in one pass, on one process and on two, the folder once and twice over (the
  marginal cost per image), projected for ImageNet's 1,331,167 train+val images on 2 and on 16 cores;
- a single build's Arrow writer batch size: datasets' 100 rows for image columns, 1000, 10000;
- peak memory of one-pass builds of many small synthetic JPEGs (64x48): 8 configs over 10,000 and
  100,000 images (flat in the images), 1, 8 and 16 configs over the fewer (at most linear in the configs),
  each build in a process of its own.

With ``--today DIR`` (the code before one-pass builds, e.g. ``git archive <commit> | tar -x -C DIR``), it
also times the 8 configs built alone by that code and by this one, in processes that take turns, and
compares: a config built alone may cost at most 1.35 times what it did, and the one pass of the 8 at most
0.4 times the 8 built alone by that code.

``--json PATH`` also writes every figure; ``--skip`` leaves out sections among ``all, writer, memory``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from bench_build import (
    DEFAULT_FOLDER, IMAGENET_TRAIN_VAL, Report, best_times, build_run, jpeg_files, kaggle_layout, machine_section,
    memory_build, memory_line, quiet_libraries, synthetic_jpegs,
)
from builder.config import COLORS, PREDEFINED_SIZES

TARGETS = {
    "one pass of the 8 / their single builds": (0.4, "<="),
    "one pass of the 4 / 64x64-sRGB-full alone": (1.6, "<="),
    "built alone, this code / today's": (1.35, "<="),
    "one pass of the 8 / their single builds today": (0.4, "<="),
}
EIGHT = tuple(f"{size}x{size}-{color}-full" for size in PREDEFINED_SIZES for color in COLORS)
MIXED = ("8x8-gray-full", "16x16-sRGB-full", "32x32-sRGB-full", "64x64-sRGB-full")
PROJECTED_CORES = (2, 16)


def predefined_names() -> list[str]:
    from imagenet_tiny import ImageNetTiny

    return list(ImageNetTiny.builder_configs)


def pass_section(report: Report, source: str, count: int, repeats: int, work: str) -> None:
    report.section(f"one pass against the same configs built one by one, {count} images, one process, best of {repeats}")
    runs = {name: build_run(name, source, work) for name in EIGHT}
    runs["the 8 in one pass"] = build_run(EIGHT, source, work)
    runs["the 4 in one pass"] = build_run(MIXED, source, work)
    seconds = best_times(runs, repeats)
    for name in EIGHT:
        report.line(f"{name:<18} alone       {seconds[name]:6.2f} s  {seconds[name] / count * 1e3:6.3f} ms/image")
    singles = sum(seconds[name] for name in EIGHT)
    together = seconds["the 8 in one pass"]
    report.line(f"the 8 one by one:              {singles:6.2f} s; in one pass: {together:6.2f} s")
    report.line(report.ratio("one pass of the 8 / their single builds", together / singles))
    mixed, alone = seconds["the 4 in one pass"], seconds["64x64-sRGB-full"]
    report.line(f"{', '.join(MIXED)} in one pass: {mixed:.2f} s; 64x64-sRGB-full alone: {alone:.2f} s")
    report.line(report.ratio("one pass of the 4 / 64x64-sRGB-full alone", mixed / alone))
    report.results["one_pass"] = {"images": count, "seconds": seconds, "eight_ratio": together / singles,
                                  "mixed_ratio": mixed / alone}


def all_predefined_section(report: Report, sources: dict[str, str], count: int, repeats: int, work: str) -> None:
    names = predefined_names()
    processes = 2 if (os.cpu_count() or 1) >= 2 else 1
    report.section(f"all {len(names)} predefined configs in one pass, {count} images once and twice over, best of {repeats}")
    runs = {(copies, p): build_run(names, sources[copies], work, num_proc=p) for copies in ("once", "twice") for p in {1, processes}}
    seconds = best_times(runs, repeats)
    marginal = {p: (seconds[("twice", p)] - seconds[("once", p)]) / count for p in {1, processes}}
    for p in sorted(marginal):
        report.line(f"{p} process(es): {seconds[('once', p)]:6.2f} s for {count} images ({seconds[('twice', p)]:6.2f} s twice over); "
                    f"marginal {marginal[p] * 1e3:.3f} ms/image")
    one_core = marginal[1] * IMAGENET_TRAIN_VAL
    report.line(f"ImageNet train+val ({IMAGENET_TRAIN_VAL:,} images), all {len(names)} configs: {one_core / 3600:.2f} core-hours")
    projections = {}
    if processes > 1:
        # What each core adds, measured on two (at most 1: above it is the noise of a shared machine).
        efficiency = min(1.0, marginal[1] / marginal[processes] / processes)
        for cores in PROJECTED_CORES:
            projections[cores] = one_core / (cores * efficiency)
            measured = "measured" if cores == processes else f"projected at the {processes}-process efficiency {efficiency:.2f}"
            report.line(f"  on {cores:>2} cores: {projections[cores] / 3600:.2f} h ({measured})")
    report.results["all_predefined"] = {"configs": len(names), "images": count, "marginal_s": marginal,
                                        "imagenet_core_s": one_core, "imagenet_s_on": projections}


def writer_section(report: Report, source: str, count: int, repeats: int, work: str) -> None:
    config = "32x32-sRGB-full"
    report.section(f"a single build's Arrow writer batch size: {config}, {count} images, best of {repeats}")
    sizes = {"datasets' default (100 for images)": None, "1000": 1000, "10000": 10000}
    seconds = best_times({label: build_run(config, source, work, writer_batch_size=size) for label, size in sizes.items()}, repeats)
    for label, value in seconds.items():
        report.line(f"writer batch {label:<34} {value:6.2f} s")
    report.results["writer_batch"] = seconds


def memory_section(report: Report, sizes: Sequence[int], work: str) -> None:
    report.section("peak memory of one-pass builds of small synthetic JPEGs (64x48), one process each")
    pool = synthetic_jpegs(os.path.join(work, "synthetic"), max(sizes))
    rows: dict = {"images": {}, "configs": {}}
    sources = {size: kaggle_layout(os.path.join(work, f"memory-{size}"), pool[:size]) for size in sizes}
    for size in sizes:
        rows["images"][size] = row = memory_build(sources[size], EIGHT, work)
        report.line(f"the 8 configs, {size:>8} images: {memory_line(row)}")
    low, high = min(sizes), max(sizes)
    if high > low and rows["images"][low]["build_peak_bytes"]:
        ratio = rows["images"][high]["build_peak_bytes"] / rows["images"][low]["build_peak_bytes"]
        report.line(f"peak from after the imports, {high}/{low} images = {ratio:.2f} (flat: target <= 1.2: "
                    f"{'met' if ratio <= 1.2 else 'NOT MET'})")
    sixteen = EIGHT + tuple(f"{name}-pad" for name in EIGHT)
    for configs in (EIGHT[-1:], EIGHT, sixteen):
        row = rows["images"][low] if configs == EIGHT else memory_build(sources[low], configs, work)
        rows["configs"][len(configs)] = row
        report.line(f"{len(configs):>2} config(s), {low} images: {memory_line(row)}")
    peaks = {n: row["build_peak_bytes"] for n, row in rows["configs"].items()}
    if all(peaks.values()):
        steps = [(peaks[8] - peaks[1]) / 7, (peaks[16] - peaks[8]) / 8]
        report.line(f"peak from after the imports grows by {steps[0] / 2**20:.1f} MiB a config from 1 to 8 configs, "
                    f"{steps[1] / 2**20:.1f} MiB a config from 8 to 16 (linear or less: "
                    f"{'met' if steps[1] <= 1.2 * max(steps[0], 2**20) else 'NOT MET'})")
    for source in sources.values():
        shutil.rmtree(source)
    report.results["memory"] = rows


def singles_child(source: str, repeats: int) -> None:
    """In a process of its own, with whichever code ``PYTHONPATH`` gives: the 8 configs built alone, as JSON."""
    with quiet_libraries(), tempfile.TemporaryDirectory(prefix="bench-onepass-singles-") as work:
        build_run(EIGHT[0], source, work)()  # untimed: once-per-process costs
        print(json.dumps(best_times({name: build_run(name, source, work) for name in EIGHT}, repeats)))


def today_section(report: Report, today: str, source: str, count: int, args) -> None:
    report.section(f"the 8 configs built alone by today's code ({today}) and by this one, {count} images, "
                   f"best of {args.repeats} x {args.today_rounds} rounds, processes taking turns")
    here = str(Path(__file__).resolve().parents[1])
    best: dict[str, dict[str, float]] = {"today": {}, "this": {}}
    for _ in range(args.today_rounds):
        for code, root in (("today", os.path.abspath(today)), ("this", here)):
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, str(Path(__file__).parent)]),
                   "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
            result = subprocess.run([sys.executable, __file__, "--singles-child", source, str(args.repeats)],
                                    capture_output=True, text=True, check=True, env=env)
            for name, seconds in json.loads(result.stdout.strip().splitlines()[-1]).items():
                best[code][name] = min(seconds, best[code].get(name, float("inf")))
    for name in EIGHT:
        ratio = best["this"][name] / best["today"][name]
        report.line(f"{name:<18} today {best['today'][name]:6.2f} s  this {best['this'][name]:6.2f} s  ratio {ratio:.2f}")
    worst = max(EIGHT, key=lambda name: best["this"][name] / best["today"][name])
    report.line(f"the most, {worst}: " + report.ratio("built alone, this code / today's", best["this"][worst] / best["today"][worst]))
    together = report.results.get("one_pass", {}).get("seconds", {}).get("the 8 in one pass")
    if together:
        report.line(report.ratio("one pass of the 8 / their single builds today", together / sum(best["today"].values())))
    report.results["today"] = best


def run_sections(args: argparse.Namespace) -> dict:
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    files = jpeg_files(args.folder, args.limit)
    report = Report(targets=TARGETS)
    with tempfile.TemporaryDirectory(dir=args.work_dir, prefix="bench-onepass-") as work:
        machine_section(report, args.folder, len(files))
        sources = {
            "once": kaggle_layout(os.path.join(work, "once"), files),
            "twice": kaggle_layout(os.path.join(work, "twice"), files, copies=2),
        }
        build_run(EIGHT[0], sources["once"], work)()  # untimed: it pays once-per-process costs (imports)
        pass_section(report, sources["once"], len(files), args.repeats, work)
        if args.today:
            today_section(report, args.today, sources["once"], len(files), args)
        if "all" not in skip:
            all_predefined_section(report, sources, len(files), args.repeats, work)
        if "writer" not in skip:
            writer_section(report, sources["once"], len(files), args.repeats, work)
        sizes = sorted({int(s) for s in args.memory_sizes.split(",") if s.strip()})
        if sizes and "memory" not in skip:
            memory_section(report, sizes, work)
    return report.results


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER), help="a folder of JPEGs")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N JPEGs (sorted by name)")
    parser.add_argument("--repeats", type=int, default=3, help="each timing is the best of this many")
    parser.add_argument("--memory-sizes", default="10000,100000", help="synthetic JPEG counts for the memory builds ('' skips)")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: all, writer, memory")
    parser.add_argument("--work-dir", default=None, help="scratch space (default: a temporary folder)")
    parser.add_argument("--json", default=None, help="also write every figure to this JSON file")
    parser.add_argument("--today", default=None, metavar="DIR", help="a checkout of the code before one-pass builds, to compare with")
    parser.add_argument("--today-rounds", type=int, default=3, help="rounds of today's and this code's single builds, in turns")
    parser.add_argument("--singles-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.singles_child:
        singles_child(args.singles_child[0], int(args.singles_child[1]))
        return {}
    with quiet_libraries():
        results = run_sections(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=str)
    return results


if __name__ == "__main__":
    main()
