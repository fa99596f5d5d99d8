"""How fast the builder is, beside the JPEG-decode floor, naive Pillow and the Matlab version's ImageMagick.

    python benchmarks/bench_build.py [FOLDER] [options]        (FOLDER default: ../shared/imagenet-sample)

Every figure of a run comes from the same JPEGs on the same machine, so the ratios hold where the
absolute numbers do not (a shared machine is noisy: each in-process timing is the best of --repeats).
For each config (default 32x32 sRGB crop and 8x8 gray crop) it times, per image:

- floor: JPEG decode alone with the DCT downscaling the builder asks for (``builder.transform.decode``);
- then what a build adds to it, step by step: resampling and colour (``builder.transform.tiny_image``),
  the PNG encoding (``builder.png``);
- builder: ``prepare_variant`` end to end on one process, examples written to Arrow; its marginal cost
  per image comes from builds of the folder once and twice over, its fixed cost is reported apart;
- naive Pillow: full decode, convert, box-resize to the centre crop, PNG encode;
- ImageMagick: the Matlab version's pipeline, one ``convert`` process per image, BMP output. The Matlab
  script is not in this repository; its conversion type 3 (centre crop) is reconstructed as the classic
  ``convert IN [-colorspace Gray] -resize WxH^ -gravity center -extent WxH OUT.bmp``.

Then: ``num_proc`` scaling, peak memory of builds of many small synthetic JPEGs (each build in its own
process), loading a built split into one numpy array, a zip archive read in place against the same
source extracted, and projections for all of ImageNet. ``--json PATH`` also writes every figure.
Many variants in one pass: ``benchmarks/bench_onepass.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import io
import json
import logging
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
from PIL import Image, ImageOps, features

from builder.classes import ilsvrc_classes
from builder.config import ImageNetTinyConfig
from builder.png import encode_png
from builder.synthetic import SourceImage, draw_example, write_kaggle_source, zip_download
from builder.transform import OUTPUT_MODES, decode, tiny_image

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = REPO_ROOT.parent / "shared" / "imagenet-sample"
DEFAULT_CONFIGS = ("32x32-sRGB-full", "8x8-gray-full")
IMAGENET_TRAIN = 1_281_167
IMAGENET_TRAIN_VAL = 1_331_167  # 1,281,167 training + 50,000 validation images
PLACEHOLDER_WNID = "n01440764"  # the class of JPEGs whose names do not start with an ILSVRC WNID
WNID = re.compile(r"n\d{8}")

TARGETS = {  # (bound, "<=" or ">=") for the ratios of time; None: reported, no target
    "builder / floor": (1.3, "<="),
    "ImageMagick / builder": None,  # no longer a target (one-pass builds: bench_onepass.py); reported
    "naive / builder": (1.7, ">="),
}


@dataclasses.dataclass
class Report:
    """What a run prints, kept also as data for ``--json``."""

    results: dict = dataclasses.field(default_factory=dict)
    targets: dict = dataclasses.field(default_factory=lambda: dict(TARGETS))

    def section(self, title: str) -> None:
        print(f"\n== {title}", flush=True)

    def line(self, text: str) -> None:
        print(f"  {text}", flush=True)

    def ratio(self, name: str, value: float) -> str:
        if self.targets[name] is None:
            return f"{name} = {value:.2f}  (reported, no target)"
        bound, sense = self.targets[name]
        met = value <= bound if sense == "<=" else value >= bound
        return f"{name} = {value:.2f}  (target {sense} {bound:g}: {'met' if met else 'NOT MET'})"


# ---------------------------------------------------------------- sources to build from


def jpeg_files(folder: str, limit: Optional[int]) -> list[str]:
    paths = sorted(p for p in glob.glob(os.path.join(glob.escape(folder), "*")) if p.lower().endswith((".jpeg", ".jpg")))
    if not paths:
        raise SystemExit(f"bench_build: no JPEG files in {folder}")
    return paths[:limit] if limit else paths


def wnid_of(path: str) -> str:
    match = WNID.match(os.path.basename(path))
    return match.group(0) if match and match.group(0) in ilsvrc_classes() else PLACEHOLDER_WNID


def kaggle_layout(root: str, files: Sequence[str], copies: int = 1, link: bool = True) -> str:
    """A Kaggle-layout source at ``root`` whose training images are ``files`` (``copies`` times over), without boxes.

    Files named ``<wnid>_...`` go to their class; others to one placeholder class. Links by default, so
    that the source costs no disk; ``link=False`` copies (for archives, which must hold the bytes). Every
    other class has an empty folder, so that the full configs (all 1000 classes) build from it.
    """
    train = [
        SourceImage(f"{wnid_of(path)}_{copy}{number:07d}", wnid_of(path), path)
        for copy in range(copies)
        for number, path in enumerate(files)
    ]
    write_kaggle_source(root, train, class_folders=ilsvrc_classes().wnids, link=link)
    return root


def synthetic_jpegs(folder: str, count: int, size: tuple[int, int] = (64, 48), distinct: int = 64) -> list[str]:
    """``count`` small JPEGs in ``folder`` (``distinct`` drawings, their bytes repeated), spread over 10 classes."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    encoded = []
    for _ in range(distinct):
        image, _ = draw_example("n01622779", rng)
        buffer = io.BytesIO()
        image.resize(size).save(buffer, format="JPEG", quality=90)
        encoded.append(buffer.getvalue())
    paths = []
    for i in range(count):
        path = os.path.join(folder, f"{ilsvrc_classes().wnids[i % 10]}_{i:07d}.JPEG")
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(encoded[i % distinct])
        paths.append(path)
    return paths


# ---------------------------------------------------------------- timings


def best_times(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The fastest of ``repeats`` runs of each, interleaved: other work on a shared machine only ever adds
    time, and interleaving spreads what it adds over all of them rather than onto one."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def best_time(run: Callable[[], object], repeats: int) -> float:
    return best_times({"run": run}, repeats)["run"]


def floor_run(paths: Sequence[str], config: ImageNetTinyConfig) -> Callable[[], None]:
    def run() -> None:
        for path in paths:
            decode(path, config.size, {config.color})

    return run


def transform_run(paths: Sequence[str], config: ImageNetTinyConfig, png: bool = False) -> Callable[[], None]:
    """Decode, resample and colour (``png``: and encode) each image, as a build does for one config."""

    def run() -> None:
        for path in paths:
            tiny = tiny_image(path, config.size, config.color, config.fit_mode, config.resample)
            if png:
                encode_png(tiny.image)

    return run


NAIVE_CODE = "ImageOps.fit(Image.open(path).convert(mode), size); save as PNG"


def naive_run(paths: Sequence[str], config: ImageNetTinyConfig, method: Optional[int] = None) -> Callable[[], None]:
    """What one writes without thinking about speed: full decode, convert, centre-crop resize, PNG.

    ``method`` None is Pillow's default (bicubic); the builder's box filter is cheaper, and shown beside it.
    """
    mode = OUTPUT_MODES[config.color]
    options = {} if method is None else {"method": method}

    def run() -> None:
        for path in paths:
            with Image.open(path) as image:
                tiny = ImageOps.fit(image.convert(mode), config.size, **options)
            buffer = io.BytesIO()
            tiny.save(buffer, format="PNG")

    return run


def imagemagick() -> Optional[list[str]]:
    """The command that runs ImageMagick's convert (IM 7's ``magick convert`` or IM 6's ``convert``), or None.

    Stand-ins of the same name that are not ImageMagick (a script that prints a notice) are passed over.
    """
    for name, prefix in (("magick", ["convert"]), ("convert", [])):
        for folder in os.get_exec_path():
            path = os.path.join(folder, name)
            if not os.access(path, os.X_OK) or os.path.isdir(path):
                continue
            with open(path, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue  # a wrapper script would add its own start-up to every image
            version = subprocess.run([path, *prefix, "-version"], capture_output=True, text=True).stdout
            if "ImageMagick" in version:
                return [path, *prefix]
    return None


def imagemagick_arguments(source: str, output: str, config: ImageNetTinyConfig) -> list[str]:
    """The Matlab version's conversion type 3 (centre crop), reconstructed: fill WxH, then cut the centre."""
    size = f"{config.width}x{config.height}"
    gray = ["-colorspace", "Gray"] if config.color == "gray" else []
    return [source, *gray, "-resize", f"{size}^", "-gravity", "center", "-extent", size, output]


def imagemagick_run(command: list[str], paths: Sequence[str], config: ImageNetTinyConfig, folder: str) -> Callable[[], None]:
    def run() -> None:
        for i, path in enumerate(paths):
            output = os.path.join(folder, f"{i}.bmp")
            subprocess.run([*command, *imagemagick_arguments(path, output, config)], check=True)

    return run


@contextlib.contextmanager
def quiet_libraries():
    """Builds log warnings and datasets shows progress bars: turned off for the run, then restored."""
    import datasets

    logger = logging.getLogger("imagenet_tiny")
    level, verbosity, bars = logger.level, datasets.logging.get_verbosity(), datasets.is_progress_bar_enabled()
    logger.setLevel(logging.ERROR)
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        logger.setLevel(level)
        datasets.logging.set_verbosity(verbosity)
        if bars:
            datasets.enable_progress_bars()


@contextlib.contextmanager
def quiet():
    """Builds print a skip summary and datasets logs progress: neither belongs in the benchmark's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def build_run(configs: str | Sequence[str], source: str, work: str, num_proc: Optional[int] = None,
              **options) -> Callable[[], None]:
    """One build from scratch (a fresh cache), in this process: a config, or several in one pass.

    ``options`` go to the builder (``writer_batch_size``, say). A single config is built through
    ``prepare_variant`` alone, which the code before one-pass builds has too (``bench_onepass --today``).
    """
    import imagenet_tiny

    def run() -> None:
        cache = tempfile.mkdtemp(dir=work, prefix="cache-")
        try:
            with quiet():
                if isinstance(configs, str):
                    imagenet_tiny.prepare_variant(configs, source, cache_dir=cache, num_proc=num_proc, **options)
                else:
                    imagenet_tiny.prepare_variants(configs, source, cache_dir=cache, num_proc=num_proc, **options)
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    return run


def builder_costs(seconds: dict[str, float], count: int) -> tuple[float, float]:
    """(marginal seconds per image, fixed seconds per build) from builds of ``count`` (``once``) and
    ``2 * count`` (``twice``) images."""
    marginal = (seconds["twice"] - seconds["once"]) / count
    return marginal, max(0.0, seconds["once"] - marginal * count)


def import_seconds() -> float:
    """Start-up of a fresh process that imports the builder: paid once per build from the shell."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import imagenet_tiny"], check=True)
    return time.perf_counter() - start


# ---------------------------------------------------------------- sections


def per_image_section(report: Report, config_name: str, paths: list[str], sources: dict, args, work: str) -> None:
    config = ImageNetTinyConfig.from_name(config_name)
    n = len(paths)
    report.section(f"{config_name} ({config.fit_mode}), {n} images, best of {args.repeats}")
    build_run(config_name, sources["once"], work)()  # untimed: it pays once-per-process costs (imports)
    seconds = best_times(
        {
            "floor": floor_run(paths, config),
            "transform": transform_run(paths, config),
            "png": transform_run(paths, config, png=True),
            "once": build_run(config_name, sources["once"], work),
            "twice": build_run(config_name, sources["twice"], work),
            "naive": naive_run(paths, config),
            "naive_box": naive_run(paths, config, Image.Resampling.BOX),
        },
        args.repeats,
    )
    marginal, fixed = builder_costs(seconds, n)
    floor, transform, png, naive, naive_box = (seconds[k] / n for k in ("floor", "transform", "png", "naive", "naive_box"))
    row = {"floor_s": floor, "transform_s": transform, "png_s": png, "builder_marginal_s": marginal,
           "builder_fixed_s": fixed, "naive_s": naive, "naive_box_s": naive_box}
    for name, seconds in (
        ("floor (decode alone)", floor),
        ("+ resample, colour", transform),
        ("+ PNG encode", png),
        ("builder (marginal)", marginal),
        ("naive Pillow", naive),
        ("naive Pillow, box", naive_box),
    ):
        report.line(f"{name:<22} {seconds * 1e3:8.3f} ms/image  {1 / seconds:8.0f} images/s")
    report.line(f"  naive: {NAIVE_CODE} (Pillow's default filter, bicubic; 'box': the builder's filter)")
    report.line(f"builder fixed cost     {fixed:8.3f} s per build (set-up, source scan, Arrow finalisation)")
    report.line(f"  beyond the decode: resample and colour {(transform - floor) * 1e3:.3f} ms, PNG {(png - transform) * 1e3:.3f} ms, "
                f"the build's own work (example, Arrow) {(marginal - png) * 1e3:.3f} ms per image")
    command = None if args.no_imagemagick else imagemagick()
    if command:
        with tempfile.TemporaryDirectory(dir=work) as out:
            magick = best_time(imagemagick_run(command, paths, config, out), 1) / n
        row["imagemagick_s"] = magick
        shown = " ".join(["convert", *imagemagick_arguments("IN", "OUT.bmp", config)])
        report.line(f"{'ImageMagick':<22} {magick * 1e3:8.3f} ms/image  {1 / magick:8.0f} images/s  (once over)")
        report.line(f"  {shown}: reconstructed (the Matlab script is not in this repository)")
    else:
        reason = "--no-imagemagick" if args.no_imagemagick else "ImageMagick's convert is not installed"
        report.line(f"ImageMagick: skipped ({reason}; apt-get install imagemagick)")
    report.line(report.ratio("builder / floor", marginal / floor))
    if command:
        report.line(report.ratio("ImageMagick / builder", row["imagemagick_s"] / marginal))
    report.line(report.ratio("naive / builder", naive / marginal))
    # What even a builder at the floor could reach: where these fall short, no builder meets the targets here.
    bounds = [f"naive / floor = {naive / floor:.2f}"]
    if command:
        bounds.insert(0, f"ImageMagick / floor = {row['imagemagick_s'] / floor:.2f}")
    report.line("bounds for any builder on this machine: " + ", ".join(bounds))
    report.results.setdefault("configs", {})[config_name] = row


def scaling_section(report: Report, config: str, files: list[str], args, work: str) -> dict[int, float]:
    source = kaggle_layout(os.path.join(work, "scaling"), files, copies=args.scaling_copies)
    count = len(files) * args.scaling_copies
    cores = os.cpu_count() or 1
    report.section(f"num_proc scaling: {config}, {count} images, best of {args.repeats}")
    runs = {p: build_run(config, source, work, num_proc=p) for p in range(1, cores + 1)}
    seconds = best_times(runs, args.repeats)
    speedups = {p: seconds[1] / s for p, s in seconds.items()}
    for p, s in seconds.items():
        report.line(f"num_proc={p}: {s:7.2f} s  {count / s:7.0f} images/s  speedup {speedups[p]:.2f}x")
    if cores >= 2:
        target = 1.7 if cores == 2 else 0.85 * cores
        report.line(f"speedup on {cores} processes = {speedups[cores]:.2f}x (target >= {target:g}: "
                    f"{'met' if speedups[cores] >= target else 'NOT MET'})")
    report.results["scaling"] = {"images": count, "seconds": seconds, "speedup": speedups}
    return speedups


def memory_child(source: str, configs: str, cache: str) -> None:
    """Run in a process of its own: one build (comma-separated configs: in one pass), then peak memory and
    time as JSON on stdout.

    ``peak_rss_bytes`` is the whole process's peak; ``build_peak_bytes`` the peak from after the imports
    on (Linux resets the high-water mark on request), which the image count could make grow.
    """
    from imagenet_tiny import prepare_variants

    reset = reset_peak_rss()
    start = time.perf_counter()
    with quiet():
        prepare_variants(configs.split(","), source, cache_dir=cache)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    build_peak = status_kib("VmHWM") if reset else None
    print(json.dumps({
        "peak_rss_bytes": peak_kib * 1024,
        "build_peak_bytes": build_peak * 1024 if build_peak else None,
        "seconds": seconds,
    }))


def memory_build(source: str, configs: Sequence[str], work: str) -> dict:
    """Peak memory and time of one build of ``configs`` (several: in one pass), in a process of its own."""
    with tempfile.TemporaryDirectory(dir=work) as cache:
        result = subprocess.run(
            [sys.executable, __file__, "--memory-child", source, ",".join(configs), cache],
            capture_output=True, text=True, check=True, env={**os.environ, "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"},
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def memory_line(row: dict) -> str:
    during = f", {row['build_peak_bytes'] / 2**20:7.1f} MiB from after the imports on" if row["build_peak_bytes"] else ""
    return f"peak RSS {row['peak_rss_bytes'] / 2**20:7.1f} MiB{during}, {row['seconds']:.1f} s"


def reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident set size
        return True
    except OSError:
        return False


def status_kib(field: str) -> Optional[int]:
    with contextlib.suppress(OSError):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    return None


def memory_section(report: Report, config: str, sizes: Sequence[int], work: str) -> None:
    report.section(f"peak memory of builds of small synthetic JPEGs (64x48), {config}, one process each")
    pool = synthetic_jpegs(os.path.join(work, "synthetic"), max(sizes))
    rows = {}
    for size in sizes:
        source = kaggle_layout(os.path.join(work, f"memory-{size}"), pool[:size])
        rows[size] = row = memory_build(source, [config], work)
        report.line(f"{size:>8} images: {memory_line(row)}")
        shutil.rmtree(source)
    low, high = min(sizes), max(sizes)
    if high > low:
        for key, what in (("peak_rss_bytes", "peak RSS"), ("build_peak_bytes", "peak from after the imports")):
            if rows[high][key] and rows[low][key]:
                ratio = rows[high][key] / rows[low][key]
                met = ratio <= 1.2 and rows[high][key] < 2**30
                report.line(f"{what} ratio {high}/{low} images = {ratio:.2f} (target <= 1.2, and under 1 GiB: "
                            f"{'met' if met else 'NOT MET'})")
    report.results["memory"] = rows


def loading_section(report: Report, config: str, source: str, count: int, work: str, repeats: int) -> float:
    """Seconds per image to load a built split into one (N, H, W, C) array."""
    from builder.arrays import images_array
    from imagenet_tiny import prepare_variant

    report.section(f"loading a built split into one numpy array: {config}, {count} images, best of {repeats}")
    with tempfile.TemporaryDirectory(dir=work) as cache, quiet():
        split = prepare_variant(config, source, cache_dir=cache).as_dataset(split="train")
        shape = images_array(split).shape
        per_image = best_time(lambda: images_array(split), repeats) / count
        del split
    projected = per_image * IMAGENET_TRAIN
    report.line(f"{shape}: {per_image * 1e6:.1f} us/image, {1 / per_image:.0f} images/s")
    report.line(f"projected for ImageNet's {IMAGENET_TRAIN:,} training images on one core: {projected:.0f} s "
                f"(target < 60 s: {'met' if projected < 60 else 'NOT MET'})")
    report.results["loading"] = {"config": config, "shape": list(shape), "seconds_per_image": per_image,
                                 "projected_train_s": projected}
    return per_image


def archive_section(report: Report, config: str, files: list[str], args, work: str) -> None:
    """The same source built from its folder and from a zip of it read in place (stored, as JPEGs are)."""
    extracted = kaggle_layout(os.path.join(work, "archive-extracted"), files, link=False)
    archive = str(zip_download(extracted, os.path.join(work, "imagenet-object-localization-challenge.zip")))
    report.section(f"zip read in place vs extracted: {config}, {len(files)} images, best of {args.repeats}")
    seconds = best_times({"folder": build_run(config, extracted, work), "zip": build_run(config, archive, work)}, args.repeats)
    folder_s, zip_s = seconds["folder"], seconds["zip"]
    n = len(files)
    report.line(f"extracted folder: {folder_s:6.2f} s  {n / folder_s:7.0f} images/s")
    report.line(f"zip in place:     {zip_s:6.2f} s  {n / zip_s:7.0f} images/s  ({folder_s / zip_s:.2f}x the extracted throughput)")
    report.results["archive"] = {"images": n, "extracted_s": folder_s, "zip_s": zip_s}


def projection_section(report: Report, config: str, marginal: float, speedups: Optional[dict[int, float]]) -> None:
    report.section(f"projection: all of ImageNet train+val ({IMAGENET_TRAIN_VAL:,} images), {config}")
    one = marginal * IMAGENET_TRAIN_VAL
    report.line(f"one core at the measured marginal rate ({1 / marginal:.0f} images/s): {one / 3600:.2f} h")
    if speedups:
        cores = max(speedups)
        report.line(f"{cores} processes at the measured speedup {speedups[cores]:.2f}x: {one / speedups[cores] / 3600:.2f} h")
    report.line("(ImageNet's JPEGs average about 400x350 pixels, like the sample's; the time scales with decode cost)")
    report.results["projection"] = {"images": IMAGENET_TRAIN_VAL, "one_core_s": one}


def machine_section(report: Report, folder: str, count: int) -> None:
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    import datasets
    import PIL

    machine = {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "datasets": datasets.__version__,
    }
    report.section("machine")
    report.line(f"{machine['cpu']}, {machine['cores']} cores; Python {machine['python']}, Pillow {machine['pillow']} "
                f"(libjpeg-turbo {machine['libjpeg_turbo']}), datasets {machine['datasets']}")
    report.line(f"images: {count} JPEGs from {folder}")
    report.results["machine"] = machine


def run_sections(args: argparse.Namespace) -> dict:
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    files = jpeg_files(args.folder, args.limit)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    report = Report()
    with tempfile.TemporaryDirectory(dir=args.work_dir, prefix="bench-build-") as work:
        machine_section(report, args.folder, len(files))
        sources = {
            "once": kaggle_layout(os.path.join(work, "once"), files),
            "twice": kaggle_layout(os.path.join(work, "twice"), files, copies=2),
        }
        report.section("fixed start-up of a fresh process")
        start_up = import_seconds()
        report.line(f"python -c 'import imagenet_tiny': {start_up:.2f} s (once per process, not per image)")
        report.results["import_s"] = start_up
        for config in configs:
            per_image_section(report, config, files, sources, args, work)
        speedups = None if "scaling" in skip else scaling_section(report, configs[0], files, args, work)
        marginal = report.results["configs"][configs[0]]["builder_marginal_s"]
        projection_section(report, configs[0], marginal, speedups)
        if "loading" not in skip:
            loading_section(report, configs[0], sources["twice"], 2 * len(files), work, args.repeats)
        if "archive" not in skip:
            archive_section(report, configs[0], files, args, work)
        sizes = sorted({int(s) for s in args.memory_sizes.split(",") if s.strip()})
        if sizes and "memory" not in skip:
            memory_section(report, configs[0], sizes, work)
    return report.results


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER), help="a folder of JPEGs")
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS), help="comma-separated config names")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N JPEGs (sorted by name)")
    parser.add_argument("--repeats", type=int, default=3, help="in-process timings are the best of this many")
    parser.add_argument("--no-imagemagick", action="store_true", help="skip the ImageMagick pipeline")
    parser.add_argument("--scaling-copies", type=int, default=4, help="num_proc scaling builds the folder this many times over")
    parser.add_argument("--memory-sizes", default="10000,100000", help="synthetic JPEG counts for the memory builds ('' skips)")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: scaling, memory, loading, archive")
    parser.add_argument("--work-dir", default=None, help="scratch space (default: a temporary folder)")
    parser.add_argument("--json", default=None, help="also write every figure to this JSON file")
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(*args.memory_child)
        return {}

    with quiet_libraries():
        results = run_sections(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
