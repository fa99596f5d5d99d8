"""Several variants in one pass over a download: each image read and decoded once, each variant as its own build makes it.

Real sample JPEGs (and odd images made from them), real Kaggle/devkit-layout sources, real zip-free folders:
every comparison is byte for byte against the variant built alone.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from PIL import Image

import imagenet_tiny
from builder import onepass, transform
from builder.classes import SEED_FIVE_CLASSES, read_synset_mapping
from builder.config import COLORS, PREDEFINED_SIZES
from builder.geometry import FIT_MODES
from builder.sources.base import SourceImage
from builder.synthetic import write_synthetic_source
from builder.transform import TinyRequest, tiny_image, tiny_images
from imagenet_tiny import ImageNetTiny, prepare_builders, prepare_variant, prepare_variants
from tests.fixtures.sources import make_devkit_source, make_kaggle_source, sample_path

WNIDS = sorted(SEED_FIVE_CLASSES) + ["n01440764", "n01443537"]  # the seed's five and two more
TWO = ["n01440764", "n01443537"]

# Every predefined size, colour and fit mode, a size above 64 (another decode tier), another filter.
REQUESTS = [TinyRequest((s, s), color, fit) for s in PREDEFINED_SIZES for color in COLORS for fit in FIT_MODES] + [
    TinyRequest((100, 100), "sRGB"), TinyRequest((48, 32), "gray", "pad", "lanczos"), TinyRequest((130, 20), "gray"),
]


def pixels_of(tiny) -> tuple[str, tuple[int, int], bytes]:
    return tiny.image.mode, tiny.image.size, tiny.image.tobytes()


@pytest.fixture(scope="module")
def odd_images(sample_dir, tmp_path_factory) -> list[Path]:
    """ImageNet's odd inputs, made from a real sample JPEG: CMYK, RGB stored without YCbCr, a PNG, progressive."""
    folder = tmp_path_factory.mktemp("odd")
    with Image.open(sample_path(sample_dir, "n01440764")) as opened:
        rgb = opened.convert("RGB")
    made = {
        "cmyk.JPEG": lambda p: rgb.convert("CMYK").save(p, format="JPEG", quality=92),
        "rgb-coded.JPEG": lambda p: rgb.save(p, format="JPEG", quality=92, keep_rgb=True),
        "png-named.JPEG": lambda p: rgb.save(p, format="PNG"),
        "progressive.JPEG": lambda p: rgb.save(p, format="JPEG", quality=92, progressive=True),
        "large.JPEG": lambda p: rgb.resize((1600, 1200)).save(p, format="JPEG", quality=90),
    }
    for name, save in made.items():
        save(folder / name)
    return sorted(folder.iterdir())


def test_a_variants_pixels_do_not_depend_on_the_others_in_the_pass(sample_dir, odd_images):
    """Built together (one decode) or alone, every request gives the same bytes: real JPEGs of every kind in
    the sample (YCbCr, grayscale, Adobe RGB and other profiles) and the odd ones."""
    paths = sorted(sample_dir.glob("*.JPEG"))[::20] + [
        sample_path(sample_dir, wnid) for wnid in ("n01532829", "n04090263", "n02676566")  # Adobe RGB; gray with a profile
    ] + odd_images
    for path in paths:
        together = tiny_images(path, REQUESTS)
        for request, tiny in zip(REQUESTS, together):
            alone = tiny_image(path, request.size, request.color, request.fit_mode, request.resample)
            assert pixels_of(tiny) == pixels_of(alone), (path.name, request)
            assert tiny.original_size == alone.original_size and tiny.fit == alone.fit


def counting(monkeypatch, module, name: str) -> list:
    """Record each call of ``module.name`` (its first positional arguments) and let it run."""
    calls = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_every_size_up_to_64_shares_one_decode_and_gray_alone_skips_the_chroma(sample_dir, odd_images, monkeypatch):
    decodes = counting(monkeypatch, transform, "_decode_open")
    path = sample_path(sample_dir, "n01440764")  # 500x375
    predefined = [r for r in REQUESTS if max(r.size) <= 64]
    tiny_images(path, predefined)
    assert len(decodes) == 1 and decodes[0][1] == 1  # at full scale: 375 // 192 = 1
    decodes.clear()
    tiny_images(path, REQUESTS)  # 100x100 and 130x20 keep 384 and 768 decoded pixels: a full decode too, the same one
    assert len(decodes) == 1
    decodes.clear()
    large = next(p for p in odd_images if p.name == "large.JPEG")  # 1600x1200: 1/4 up to 64, 1/2 up to 128, 1/1 above
    tiny_images(large, REQUESTS)
    assert sorted(scale for _, scale, _ in decodes) == [1, 2, 4]

    modes = []
    real = decodes and transform._decode_open  # the counting one: it runs the real decode

    def recording(*args):
        decoded = real(*args)
        modes.append(decoded.image.mode)
        return decoded

    monkeypatch.setattr(transform, "_decode_open", recording)
    tiny_image(path, (8, 8), "gray")
    tiny_images(path, [TinyRequest((8, 8), "gray"), TinyRequest((32, 32), "sRGB")])
    assert modes == ["L", "YCbCr"]  # gray alone: libjpeg's Y, no chroma decoded


@pytest.fixture(scope="module")
def sources(tmp_path_factory, sample_dir, ilsvrc_dir):
    """Kaggle and devkit sources of 7 classes, test images, an unreadable JPEG and boxes reaching outside."""
    root = tmp_path_factory.mktemp("sources")
    made = {
        "kaggle": make_kaggle_source(root / "kaggle", sample_dir, ilsvrc_dir, WNIDS, val_per_class=2,
                                     test_wnids=["n04090263", "n01532829"]),
        "devkit": make_devkit_source(root / "devkit", sample_dir, ilsvrc_dir, WNIDS, val_per_class=2,
                                     test_wnids=["n04090263", "n01532829"]),
    }
    kaggle = made["kaggle"]
    truncated = kaggle.root / "ILSVRC" / "Data" / "CLS-LOC" / "train" / "n01440764" / "n01440764_7.JPEG"
    truncated.write_bytes(kaggle.train[0].path.read_bytes()[:3000])
    image = next(m for m in kaggle.train if m.boxes and m.wnid == "n01622779")
    with Image.open(image.path) as opened:
        w, h = opened.size
    solution = kaggle.root / "LOC_train_solution.csv"
    rows = list(csv.reader(solution.open(newline="")))
    for row in rows:
        if row[0] == image.image_id:
            row[1] += f" {image.wnid} 10 10 {w + 40} {h - 1} {image.wnid} {w + 5} 0 {w + 30} 20"
    with open(solution, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return made


def variants(root: Path, cache: Path, **options) -> list[ImageNetTiny]:
    """Variants of every size class, colour and fit mode, two class sets, another filter, one above 64."""
    made = [ImageNetTiny(config_name=name, data_dir=str(root), cache_dir=str(cache), **options)
            for name in ("8x8-gray-5", "16x16-sRGB-5-pad", "64x64-sRGB-5", "24x16-gray-5-squash", "100x100-sRGB-5")]
    made.append(ImageNetTiny(config_name="8x8-sRGB-2", data_dir=str(root), cache_dir=str(cache), classes=TWO, **options))
    made.append(ImageNetTiny(config_name="32x32-gray-5", data_dir=str(root), cache_dir=str(cache), resample="lanczos", **options))
    return made


def alone(builder: ImageNetTiny, cache: Path) -> ImageNetTiny:
    """The same variant built alone, in another cache."""
    config = builder.config
    options = {k: v for k, v in (("classes", config.classes and list(config.classes)), ("resample", config.resample)) if v not in (None, "box")}
    return prepare_variant(config.name, config.data_dir, cache_dir=str(cache), strict=builder.strict, shard=builder.shard, **options)


def read_if_there(path: str) -> str | None:
    return Path(path).read_text() if os.path.exists(path) else None


def assert_same_build(together: ImageNetTiny, single: ImageNetTiny, files_too: bool = True) -> None:
    """Rows, features, splits, reports, record and info of the two builds are the same; ``files_too``: also
    how the rows are cut into files, and their bytes (with ``num_proc`` they depend on the workers' shares)."""
    a, b = together.as_dataset(), single.as_dataset()
    assert sorted(a) == sorted(b), together.config.name
    for split in a:
        assert a[split].features == b[split].features
        assert a[split].data.table.equals(b[split].data.table), (together.config.name, split)
    for name in ("skipped_images.csv", "adjusted_boxes.csv", "source.json"):
        assert read_if_there(os.path.join(together.cache_dir, name)) == read_if_there(os.path.join(single.cache_dir, name)), name
    infos = [json.loads(Path(b.cache_dir, "dataset_info.json").read_text()) for b in (together, single)]
    if not files_too:
        for info in infos:
            for key in ("dataset_size", "size_in_bytes"):
                info.pop(key)
            for split in info["splits"].values():
                split.pop("shard_lengths", None)
                split.pop("num_bytes")
    assert infos[0] == infos[1]
    assert Path(together.cache_dir).relative_to(together._cache_dir_root) == Path(single.cache_dir).relative_to(single._cache_dir_root)


@pytest.mark.parametrize("layout, num_proc", [("kaggle", 2), ("devkit", None)])
def test_one_pass_builds_each_variant_as_its_own_build_would(layout, num_proc, sources, tmp_path, monkeypatch):
    source = sources[layout]
    reads = counting(monkeypatch, SourceImage, "file")
    builders = variants(source.root, tmp_path / "pass")
    prepare_builders(builders, num_proc=num_proc)
    if num_proc is None:  # in this process: each train and validation image read once (no full config: no test)
        assert len(reads) == len(source.train) + len(source.validation)
    assert not list((tmp_path / "pass").glob(f"{onepass.STAGING_PREFIX}*")), "staging outlived the pass"
    for builder in builders:
        assert_same_build(builder, alone(builder, tmp_path / "alone"), files_too=num_proc is None)
        assert ImageNetTiny(config_name=builder.config.name, data_dir=str(source.root), cache_dir=str(tmp_path / "pass"),
                            **({"classes": TWO} if builder.config.classes else {}),
                            **({"resample": "lanczos"} if builder.config.resample != "box" else {})).is_built()
    if layout == "kaggle":
        assert not os.path.exists(os.path.join(builders[0].cache_dir, "skipped_images.csv"))  # the seed's classes do not hold it
        with open(os.path.join(builders[5].cache_dir, "skipped_images.csv")) as f:
            assert "n01440764_7" in f.read()  # the two others do: skipped and reported, as alone
        assert os.path.exists(os.path.join(builders[0].cache_dir, "adjusted_boxes.csv"))


@pytest.mark.e2e
def test_a_sharded_pass_builds_each_variants_own_shard(sources, tmp_path):
    source = sources["devkit"]
    for index in range(3):
        builders = variants(source.root, tmp_path / f"pass-{index}", shard=(index, 3))
        prepare_builders(builders)
        for builder in builders:
            assert_same_build(builder, alone(builder, tmp_path / f"alone-{index}"))


def test_finished_variants_are_reused_and_the_rest_built_together(sources, tmp_path, monkeypatch):
    source = sources["kaggle"]
    prepare_variant("8x8-gray-5", str(source.root), cache_dir=str(tmp_path))
    decodes = counting(monkeypatch, transform, "_decode_open")
    first, second, third = prepare_variants(["8x8-gray-5", "16x16-sRGB-5", "32x32-sRGB-5"], str(source.root), cache_dir=str(tmp_path))
    assert len(decodes) == 20  # the seed's ten train and ten validation images, once each, for the two unbuilt
    assert all(b.is_built() for b in (first, second, third))
    decodes.clear()
    prepare_variants(["8x8-gray-5", "16x16-sRGB-5"], str(source.root), cache_dir=str(tmp_path))
    assert decodes == []


@pytest.mark.e2e
def test_class_subsets_share_the_pass_with_full(sample_dir, ilsvrc_dir, tmp_path, monkeypatch):
    all_wnids = read_synset_mapping(ilsvrc_dir / "LOC_synset_mapping.txt").wnids
    source = make_devkit_source(tmp_path / "src", sample_dir, ilsvrc_dir, all_wnids, train_per_class=1, val_per_class=0,
                                test_wnids=["n04090263", "n01532829"])
    decodes = counting(monkeypatch, transform, "_decode_open")
    names = ["8x8-gray-full", "32x32-sRGB-full", "16x16-sRGB-5", "64x64-gray-100"]
    builders = prepare_variants(names, str(source.root), cache_dir=str(tmp_path / "pass"))
    assert len(decodes) == 1000 + 2  # each train image once, and the two test images (of the full configs alone)
    lengths = [{split: len(ds) for split, ds in b.as_dataset().items()} for b in builders]
    assert lengths == [{"train": 1000, "test": 2}, {"train": 1000, "test": 2}, {"train": 5}, {"train": 100}]
    for builder in builders[1:3]:
        assert_same_build(builder, alone(builder, tmp_path / "alone"))


def test_an_interrupted_pass_leaves_no_build_and_no_staging(sources, tmp_path, monkeypatch):
    source = sources["kaggle"]
    real, calls = onepass.tiny_examples, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(onepass, "tiny_examples", interrupted)
    builders = variants(source.root, tmp_path / "pass")
    with pytest.raises(KeyboardInterrupt):
        prepare_builders(builders)
    for builder in builders:
        with pytest.raises(FileNotFoundError):
            builder.as_dataset()
    assert not list((tmp_path / "pass").glob(f"{onepass.STAGING_PREFIX}*"))
    monkeypatch.setattr(onepass, "tiny_examples", real)
    again = variants(source.root, tmp_path / "pass")
    prepare_builders(again)
    assert_same_build(again[1], alone(again[1], tmp_path / "alone"))


def test_a_build_interrupted_after_the_pass_keeps_the_finished_variants_only(sources, tmp_path, monkeypatch):
    source = sources["kaggle"]
    real, files = onepass.staged_examples, []

    def interrupted(path):
        files.append(path)
        if os.sep + "2" + os.sep in path:  # the third variant's staging
            raise KeyboardInterrupt
        return real(path)

    monkeypatch.setattr(onepass, "staged_examples", interrupted)
    builders = variants(source.root, tmp_path / "pass")
    with pytest.raises(KeyboardInterrupt):
        prepare_builders(builders)
    assert [b.is_built() for b in builders] == [True, True] + [False] * (len(builders) - 2)
    with pytest.raises(FileNotFoundError):
        builders[2].as_dataset()
    assert not list((tmp_path / "pass").glob(f"{onepass.STAGING_PREFIX}*"))
    assert_same_build(builders[1], alone(builders[1], tmp_path / "alone"))


def test_staging_that_a_killed_pass_left_is_removed_by_the_next(sources, tmp_path):
    cache = tmp_path / "pass"
    cache.mkdir()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    host = f"{onepass.STAGING_PREFIX}{__import__('socket').gethostname()}-"
    killed = cache / f"{host}{ended.pid}-abcd1234"
    running = cache / f"{host}{os.getpid()}-efgh5678"  # a pass of a process that is still there
    for folder in (killed, running):
        (folder / "0").mkdir(parents=True)
        (folder / "0" / "train-00000.arrow").write_bytes(b"staged")
    prepare_variants(["8x8-gray-5", "16x16-gray-5"], str(sources["kaggle"].root), cache_dir=str(cache))
    assert not killed.exists() and running.exists()


def test_a_strict_pass_names_the_unreadable_file_and_builds_nothing(sources, tmp_path):
    source = sources["kaggle"]
    builders = [ImageNetTiny(config_name=name, data_dir=str(source.root), cache_dir=str(tmp_path), classes=TWO, strict=True)
                for name in ("8x8-gray-2", "16x16-sRGB-2")]
    truncated = source.root / "ILSVRC" / "Data" / "CLS-LOC" / "train" / "n01440764" / "n01440764_7.JPEG"
    with pytest.raises(imagenet_tiny.CorruptImageError, match=f"cannot read {truncated}"):
        prepare_builders(builders)
    assert not any(b.is_built() for b in builders)
    assert not list(tmp_path.glob(f"{onepass.STAGING_PREFIX}*"))


def test_variants_of_two_downloads_are_not_one_pass(sources, tmp_path):
    builders = [ImageNetTiny(config_name="8x8-gray-5", data_dir=str(sources[layout].root), cache_dir=str(tmp_path))
                for layout in ("kaggle", "devkit")]
    with pytest.raises(ValueError, match="one pass builds variants of one download"):
        prepare_builders(builders)


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic") / "src"
    write_synthetic_source(root, per_class=(4, 2, 0))  # 20 train, 10 validation images
    return root


def test_generate_builds_several_configs_in_one_pass(synthetic, tmp_path, run_cli):
    result = run_cli("generate", "8x8-gray-5", "16x16-sRGB-5-pad", "--data-dir", str(synthetic), "--cache-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "One pass over 30 source images for 2 configs: 8x8-gray-5, 16x16-sRGB-5-pad" in result.stderr
    assert "Built 8x8-gray-5: 8x8 gray" in result.stdout and "Built 16x16-sRGB-5-pad: 16x16 sRGB" in result.stdout
    for name in ("8x8-gray-5", "16x16-sRGB-5-pad"):
        assert ImageNetTiny(config_name=name, data_dir=str(synthetic), cache_dir=str(tmp_path)).is_built()


def test_export_builds_its_configs_in_one_pass(synthetic, tmp_path, monkeypatch):
    from publish.export import export

    decodes = counting(monkeypatch, transform, "_decode_open")
    names = ["8x8-gray-5", "32x32-sRGB-5", "16x16-gray-5-squash"]
    export(names, synthetic, tmp_path / "out", cache_dir=str(tmp_path / "cache"))
    assert len(decodes) == 30
    single = prepare_variant("32x32-sRGB-5", str(synthetic), cache_dir=str(tmp_path / "alone")).as_dataset()
    loaded = datasets.load_dataset(str(tmp_path / "out"), "32x32-sRGB-5", cache_dir=str(tmp_path / "loaded"))
    for split in single:
        assert loaded[split].data.table.equals(single[split].data.table, check_metadata=False)


@pytest.mark.e2e
def test_slurm_builds_several_configs_shard_by_shard_and_finalize_writes_each(synthetic, tmp_path, run_cli):
    out, names = tmp_path / "out", ["8x8-gray-5", "16x16-sRGB-5"]

    def run(*args: str, check: bool = True):
        result = run_cli(*args)
        assert not check or result.returncode == 0, result.stderr
        return result

    common = ["--data-dir", str(synthetic), "--output", str(out), "--num-shards", "2"]
    dry = run("slurm", *names, *common, "--dry-run").stdout
    group = out / ".shards" / "8x8-gray-5+16x16-sRGB-5"
    assert f'generate 8x8-gray-5 16x16-sRGB-5 --data-dir {synthetic} --output {out} --num-shards 2 --shard-index "$SLURM_ARRAY_TASK_ID"' in dry
    assert f"slurm 8x8-gray-5 16x16-sRGB-5 --data-dir {synthetic} --output {out} --num-shards 2 --finalize" in dry
    assert f"#SBATCH --output={group}/logs/shard-%a.log" in dry and "#SBATCH --array=0-1" in dry
    built = run("generate", *names, *common, "--shard-index", "1").stdout
    assert "Built shard 1 of 2 of 8x8-gray-5" in built and "Built shard 1 of 2 of 16x16-sRGB-5" in built
    status = run("slurm", *names, *common, "--status").stdout
    assert "8x8-gray-5, 16x16-sRGB-5 in" in status and "1 of 2 shards finished" in status and "--only-shards 0" in status
    unfinished = run("slurm", *names, *common, "--finalize", check=False)
    assert unfinished.returncode == 2 and "1 of 2 shards of 8x8-gray-5" in unfinished.stderr and not out.joinpath("README.md").exists()
    run("generate", *names, *common, "--shard-index", "0")
    finalized = run("slurm", *names, *common, "--finalize").stdout
    assert "Assembled 2 shards of 8x8-gray-5, 16x16-sRGB-5 into" in finalized
    for name in names:
        single = prepare_variant(name, str(synthetic), cache_dir=str(tmp_path / "alone")).as_dataset()
        loaded = datasets.load_dataset(str(out), name, cache_dir=str(tmp_path / "loaded"))
        for split in single:
            assert loaded[split].data.table.equals(single[split].data.table, check_metadata=False), (name, split)


# --- fidelity -----------------------------------------------------------------------------------


@pytest.mark.e2e
def test_every_predefined_size_colour_and_fit_stays_within_two_grey_levels_of_a_full_decode(sample_dir):
    """The shared decode's fidelity on all 1000 real sample images (the README quotes the table)."""
    from fidelity import BOUND, measure_requests, predefined_requests

    results = measure_requests(sorted(sample_dir.glob("*.JPEG")), predefined_requests())
    assert len(results) == len(PREDEFINED_SIZES) * len(COLORS) * len(FIT_MODES)
    over = {request: result.mean for request, result in results.items() if result.mean > BOUND}
    assert not over, over
