"""From an exported variant to one numpy array: ``load_arrays`` against ``np.copy`` and the code it replaced.

    python benchmarks/bench_arrays.py [FOLDER] [--rows 20000] [--sizes 32] [--repeats 3]

FOLDER (default ``../shared/imagenet-sample``) gives the pictures: each JPEG is decoded once and cut
into ``--rows`` / (number of JPEGs) different centre-ish crops, box-filtered to each size (sRGB), so that
the rows are real image content. The same pixels are then exported twice, as an ImageNet-tiny folder:

- *today*: PNGs as ImageNet-tiny writes them now (:mod:`builder.png`: stored rows), Parquet compressed
  with zstd (``publish.export.write_parquet``);
- *before*: PNGs as the builder wrote them up to commit 4ee6a58 (Pillow, zlib's RLE strategy), Parquet
  as ``Dataset.to_parquet`` writes it (image bytes uncompressed), and decoded by ``images_array`` of that
  commit, read from git history (``git show 4ee6a58:builder/arrays.py``), so the baseline is that code.

Printed, per size: the Parquet bytes per image of each, and, for the first size, the times per image of
``np.copy`` of the array, the old decoder, ``load_arrays``'s first (decoding) call on each export, its
cached call (the memory map alone, and with a copy of every byte), each the best of ``--repeats``, and the
peak memory of a first call (in a child process, over its memory before the call); then the ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Callable, Optional, Sequence

import datasets
import numpy as np
from PIL import Image

from bench_build import reset_peak_rss, status_kib
from builder.arrays import load_arrays
from builder.png import encode_png
from publish.card import write_card
from publish.export import write_parquet

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = REPO_ROOT.parent / "shared" / "imagenet-sample"
BASELINE_COMMIT = "4ee6a58"
CONFIG = "{size}x{size}-sRGB-full"


def tiny_images(folder: Path, rows: int, size: int) -> np.ndarray:
    """``rows`` different ``size`` x ``size`` sRGB crops of the JPEGs in ``folder``, as ``(rows, size, size, 3)``."""
    paths = sorted(folder.glob("*.JPEG"))
    per_image = -(-rows // len(paths))
    out = []
    for path in paths:
        with Image.open(path) as image:
            image.draft("RGB", (4 * size, 4 * size))
            image = image.convert("RGB")
        w, h = image.size
        for k in range(per_image):
            side = min(w, h) * (0.6 + 0.4 * k / per_image)
            x0, y0 = (w - side) * ((k * 7) % 10) / 10, (h - side) * ((k * 3) % 10) / 10
            out.append(np.asarray(image.resize((size, size), Image.Resampling.BOX, box=(x0, y0, x0 + side, y0 + side))))
    return np.stack(out[:rows])


def pillow_png(pixels: np.ndarray) -> bytes:
    """A PNG as the builder encoded it up to commit 4ee6a58."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_type=zlib.Z_RLE)
    return buffer.getvalue()


def export_folder(images: np.ndarray, encode: Callable[[np.ndarray], bytes], folder: Path, config: str, today: bool) -> int:
    """Write ``images`` as ``folder/config/train-00000-of-00001.parquet``; returns the file's size."""
    features = datasets.Features({"image": datasets.Image(mode="RGB"), "label": datasets.ClassLabel(num_classes=1000)})
    split = datasets.Dataset.from_dict(
        {"image": [{"bytes": encode(pixels), "path": None} for pixels in images], "label": [i % 1000 for i in range(len(images))]},
        features=features,
    )
    path = folder / config / "train-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    if today:
        write_parquet(split, path)
    else:
        split.to_parquet(str(path))
    write_card(folder)  # the card's configs are what load_dataset(folder, config) reads
    return path.stat().st_size


def baseline_images_array() -> Optional[Callable]:
    """``images_array`` as of the baseline commit, from git history (None where the history is not at hand)."""
    try:
        code = subprocess.run(
            ["git", "show", f"{BASELINE_COMMIT}:builder/arrays.py"], cwd=REPO_ROOT, capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("baseline_arrays", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(code, f"{BASELINE_COMMIT}:builder/arrays.py", "exec"), module.__dict__)
    return module.images_array


def best_time(run: Callable[[], object], repeats: int, setup: Callable[[], object] = lambda: None) -> float:
    times = []
    for _ in range(repeats):
        setup()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_memory_child(folder: str, config: str, cache: str) -> None:
    """Run in a child process: load the split (``load_dataset``'s Parquet-to-Arrow step, apart), then a first
    ``load_arrays`` of it; prints the peak increase of the process's anonymous memory (``RssAnon``, sampled
    every 2 ms: what the call holds) and of its RSS (which also counts the page cache of the Arrow file read
    and of the ``.npy`` written) during that call."""
    split = datasets.load_dataset(folder, config, split="train", cache_dir=cache)
    if not reset_peak_rss():
        print(json.dumps({"anon_peak_increase_bytes": None}))
        return
    rss_before, anon_before = status_kib("VmRSS"), status_kib("RssAnon")
    peak, done = [anon_before], threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], status_kib("RssAnon"))

    sampler = threading.Thread(target=sample)
    sampler.start()
    images, _ = load_arrays(split, cache_dir=cache, num_proc=2)
    done.set()
    sampler.join()
    print(json.dumps({
        "anon_peak_increase_bytes": (max(peak[0], status_kib("RssAnon")) - anon_before) * 1024,
        "rss_peak_increase_bytes": (status_kib("VmHWM") - rss_before) * 1024,
        "array_bytes": images.nbytes,
    }))


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER))
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--sizes", default="32,8,16,64", help="image sizes; the first is timed, all are sized")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--work-dir", default=None)
    args = parser.parse_args(argv)
    datasets.disable_progress_bars()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-arrays-", dir=args.work_dir))
    results: dict = {"rows": args.rows, "sizes": {}}
    try:
        print(f"{args.rows} rows of sRGB crops of {args.folder}; {os.cpu_count()} CPUs; best of {args.repeats}")
        for size in sizes:
            config = CONFIG.format(size=size)
            images = tiny_images(Path(args.folder), args.rows, size)
            today = export_folder(images, lambda p: encode_png(Image.fromarray(p)), work / "today", config, True)
            before = export_folder(images, pillow_png, work / "before", config, False)
            results["sizes"][size] = {"today_bytes": today / len(images), "before_bytes": before / len(images)}
            print(f"{config}: Parquet {today / len(images):.0f} bytes per image today, {before / len(images):.0f} "
                  f"before: today / before = {today / before:.2f} (bound 1.33)")
            if size == sizes[0]:
                results.update(time_loading(images, work, config, args))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def time_loading(images: np.ndarray, work: Path, config: str, args: argparse.Namespace) -> dict:
    count = len(images)
    cache = work / "cache"
    clear = lambda: shutil.rmtree(cache, ignore_errors=True)  # noqa: E731 - a first call each time
    loaded = {name: datasets.load_dataset(str(work / name), config, split="train", cache_dir=str(work / "hf")) for name in ("today", "before")}
    seconds = {"np.copy": best_time(lambda: np.copy(images), args.repeats)}
    old_decoder = baseline_images_array()
    if old_decoder is not None:
        seconds["images_array before"] = best_time(lambda: old_decoder(loaded["before"]), args.repeats)
    for name in ("before", "today"):
        split = loaded[name]
        decode = lambda: load_arrays(split, cache_dir=str(cache), num_proc=args.num_proc)  # noqa: E731
        seconds[f"load_arrays first, {name}"] = best_time(decode, args.repeats, setup=clear)
        folder = str(work / name)
        first = lambda: load_arrays(folder, config, "train", cache_dir=str(cache), num_proc=args.num_proc)  # noqa: E731
        seconds[f"... with load_dataset, {name}"] = best_time(first, args.repeats, setup=clear)
    first()  # the cache of "today" stays for the cached calls
    seconds["load_arrays cached (map)"] = best_time(first, args.repeats)
    seconds["load_arrays cached + copy"] = best_time(lambda: np.array(first()[0]), args.repeats)
    cached, _ = first()
    assert np.array_equal(cached, images), "load_arrays must give the pixels exported"
    for name, value in seconds.items():
        print(f"  {name:<28} {value / count * 1e6:8.2f} us per image")
    ratios = {
        "load_arrays cached + copy / np.copy": (seconds["load_arrays cached + copy"] / seconds["np.copy"], "<= 3"),
    }
    if old_decoder is not None:
        for name in ("today", "before"):
            ratios[f"images_array before / load_arrays first, {name}"] = (
                seconds["images_array before"] / seconds[f"load_arrays first, {name}"], ">= 2" if name == "today" else ""
            )
    else:
        print(f"  images_array before: skipped (git history with {BASELINE_COMMIT} is not at hand)")
    clear()
    child = subprocess.run(
        [sys.executable, "-c", f"import bench_arrays; bench_arrays.peak_memory_child({str(work / 'today')!r}, {config!r}, {str(cache)!r})"],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "benchmarks"), str(REPO_ROOT)])},
    )
    memory = json.loads(child.stdout.strip().splitlines()[-1])
    if memory["anon_peak_increase_bytes"] is not None:
        ratios["first call's peak memory (anonymous) / array"] = (memory["anon_peak_increase_bytes"] / memory["array_bytes"], "about 1")
        ratios["first call's peak RSS, page cache included / array"] = (memory["rss_peak_increase_bytes"] / memory["array_bytes"], "")
    for name, (value, bound) in ratios.items():
        print(f"  {name} = {value:.2f}" + (f" (bound {bound})" if bound else ""))
    return {"seconds": seconds, "ratios": {k: v for k, (v, _) in ratios.items()}, "memory": memory}


if __name__ == "__main__":
    main()
