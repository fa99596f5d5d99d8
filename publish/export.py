"""Export built configs into a folder laid out as a Hub dataset repository.

``DIR`` after ``export(["16x16-sRGB-5", "8x8-gray-5"], data_dir, DIR)``::

    README.md                                  dataset card, regenerated from what DIR holds (publish.card)
    16x16-sRGB-5/train-00000-of-00001.parquet  each config's splits as Parquet shards of at most
    16x16-sRGB-5/validation-00000-of-00001.parquet   ``max_shard_size`` (500MB), images embedded as PNG,
    8x8-gray-5/...                             and at least ``min_shards`` (8) of 1,000 rows or more each
    previews/16x16-sRGB-5.png                  originals beside tiny versions (publish.preview)

``datasets.load_dataset(DIR, CONFIG)`` then gives the same rows, features and label names as the builder,
``datasets.load_dataset(DIR)`` the default config's (the one the card marks: ``default_config``, else the
card's earlier default, else the first config exported), and ``publish.hub`` uploads the same layout.
Exporting another config into an existing DIR adds it and leaves the others as they are; exporting a
config again replaces its shards.

Export replaces only what an earlier export wrote (``publish.folder``): a ``README.md``, a preview or a
folder named as a config that it did not write is an :class:`~publish.folder.OverwriteError` naming it,
raised before any build, unless ``force``. Folders and files get the umask's modes; each is written under
a hidden staging name and renamed into place when whole, and what a killed export left is removed by the next.

Assembling the layout from elsewhere (the SLURM ``finalize`` step, say, whose shards were built by separate
jobs) takes three calls, each independent of how the data were built::

    from imagenet_tiny import ImageNetTiny
    from publish.export import write_card, write_config, write_preview
    from publish.preview import draw_preview

    write_config({"train": train, "validation": validation}, "64x64-sRGB-full", DIR)  # a datasets.Dataset per split
    builder = ImageNetTiny(config_name="64x64-sRGB-full", data_dir=SRC)  # not built: only its .source and .classes
    picture = draw_preview(validation, builder.source, builder.classes, title="64x64-sRGB-full", split="validation")
    write_preview(picture, "64x64-sRGB-full", DIR)
    write_card(DIR)  # last: the card lists every config that DIR now holds
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import datasets
import pyarrow.parquet as pq
from datasets.arrow_writer import (
    get_parquet_column_options,
    get_writer_batch_size_from_data_size,
    get_writer_batch_size_from_features,
)
from datasets.table import embed_table_storage
from datasets.utils.py_utils import convert_file_size_to_int
from PIL import Image

from builder.config import parse_config_name
from builder.errors import InputError
from publish.card import (
    CARD_FILENAME, SHARD_PATTERN, ExportLayoutError, check_card, choose_default_config, config_shards, exported_configs,
    folder_default_config, is_config_name, is_generated_card, preview_path, shard_name, write_card,
)
from publish.folder import (
    OverwriteError, check_replaceable, check_replaceable_folder, locked, naming, remove_stale_staging, replace_folder,
    staging_folder, write_file,
)
from publish.preview import builder_preview

DEFAULT_MAX_SHARD_SIZE = datasets.config.MAX_SHARD_SIZE  # "500MB", as push_to_hub
# Streaming DataLoader workers each read whole files: a large split in at least this many lets 8 work at once.
DEFAULT_MIN_SHARDS = 8
MIN_ROWS_PER_SHARD = 1000  # fewer rows than this per file only where the byte limit asks for it

__all__ = [
    "DEFAULT_MAX_SHARD_SIZE", "DEFAULT_MIN_SHARDS", "OverwriteError", "check_export", "check_min_shards", "export",
    "export_builder", "shard_count", "write_card", "write_config", "write_preview",
]


def shard_count(num_rows: int, num_bytes: int, max_bytes: int, min_shards: int = DEFAULT_MIN_SHARDS) -> int:
    """How many Parquet files a split of ``num_rows`` rows and ``num_bytes`` of Arrow data is written as.

    Enough that none holds more than ``max_bytes`` (as ``push_to_hub`` counts), and at least ``min_shards``
    where the split has ``MIN_ROWS_PER_SHARD`` rows for each; one at least, an empty split too.
    """
    by_size = min(num_rows, num_bytes // max_bytes + 1)
    by_rows = min(min_shards, num_rows // MIN_ROWS_PER_SHARD)
    return max(1, by_size, by_rows)


def check_min_shards(min_shards: int) -> None:
    """Raise ``ValueError`` unless ``min_shards`` is a whole number of at least 1 (checked before any build)."""
    if isinstance(min_shards, bool) or not isinstance(min_shards, int) or min_shards < 1:
        raise InputError(f"min_shards (--min-shards) must be a whole number of at least 1, not {min_shards!r}")


def write_config(
    splits: Union[datasets.DatasetDict, Mapping[str, datasets.Dataset]],
    config: str,
    out_dir: Union[str, os.PathLike],
    *,
    max_shard_size: Union[int, str] = DEFAULT_MAX_SHARD_SIZE,
    min_shards: int = DEFAULT_MIN_SHARDS,
    force: bool = False,
) -> list[str]:
    """Write one config's splits as ``out_dir/CONFIG/SPLIT-XXXXX-of-YYYYY.parquet``, replacing any earlier shards.

    Shards are contiguous runs of rows, each of at most ``max_shard_size`` of Arrow data (as ``push_to_hub``
    cuts them), and at least ``min_shards`` of a split with 1,000 rows for each (:func:`shard_count`), so
    that as many streaming ``DataLoader`` workers have a file each; files referenced by path (images, say)
    are embedded. The shards are written beside the folder first and swapped in at the end, so an
    interrupted export leaves the previous shards whole.
    A ``CONFIG`` folder holding anything but shards is an :class:`~publish.folder.OverwriteError`, unless
    ``force``. Returns the written paths, relative to ``out_dir``. Call :func:`write_card` afterwards.
    """
    if not is_config_name(config):
        parse_config_name(config)  # explains the grammar if the name does not fit it at all
        raise ExportLayoutError(f"{config!r} is not a canonical config name (the builder leaves out '-crop')")
    if not splits:
        raise ExportLayoutError(f"no split given for {config}")
    features = {name: ds.features for name, ds in splits.items()}
    first = next(iter(features.values()))
    if any(f != first for f in features.values()):
        raise ExportLayoutError(f"the splits of {config} have different features: {sorted(features)}")
    max_bytes = convert_file_size_to_int(max_shard_size)
    check_min_shards(min_shards)
    with locked(out_dir) as out_dir:
        # Any config's: a killed export's staging folders can be large.
        remove_stale_staging(out_dir, is_config_name)
        check_config_folder(out_dir, config, force=force)
        # A hidden sibling folder: neither a config for the card nor a data file for load_dataset.
        staging = staging_folder(out_dir / config)
        written = []
        try:
            for split, dataset in splits.items():
                for name in _write_split(dataset, split, staging, max_bytes, min_shards):
                    written.append(f"{config}/{name}")
            replace_folder(staging, out_dir / config)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
    return written


def check_config_folder(out_dir: Union[str, os.PathLike], config: str, *, force: bool = False) -> None:
    """Raise :class:`~publish.folder.OverwriteError` if ``out_dir/CONFIG`` is there and holds anything but shards."""
    check_replaceable_folder(out_dir, config, recognised=lambda path: SHARD_PATTERN.fullmatch(path.name) is not None,
                             force=force)


def check_preview(out_dir: Union[str, os.PathLike], config: str, *, force: bool = False) -> None:
    """Raise :class:`~publish.folder.OverwriteError` if the config's preview is there and export did not write it.

    In a folder exported before there was a manifest, a preview is export's when the card export wrote links to it.
    """

    def linked_from_the_card(_: Path) -> bool:
        card = Path(out_dir) / CARD_FILENAME
        return is_generated_card(card) and f"]({preview_path(config)})" in card.read_text(encoding="utf-8")

    check_replaceable(out_dir, preview_path(config), recognised=linked_from_the_card, force=force)


def _write_split(dataset: datasets.Dataset, split: str, folder: Path, max_bytes: int, min_shards: int) -> list[str]:
    count = shard_count(len(dataset), dataset.data.nbytes, max_bytes, min_shards)
    names = []
    for index in range(count):
        name = shard_name(split, index, count)
        with naming(folder / name):
            write_parquet(dataset.shard(num_shards=count, index=index, contiguous=True), folder / name)
        names.append(name)
    return names


def write_parquet(dataset: datasets.Dataset, path: Path) -> None:
    """``dataset.to_parquet(path)`` (datasets' row groups, page index and content-defined chunks, files embedded),
    but every column compressed with zstd.

    datasets leaves image bytes uncompressed, as image files are compressed already; ImageNet-tiny's PNGs
    store their rows (:mod:`builder.png`), and zstd over a row group of them is smaller than PNGs deflated
    one by one (``benchmarks/bench_arrays.py`` prints the sizes).
    """
    features = dataset.features
    options = get_parquet_column_options(features, features.arrow_schema)
    options["compression"] = "zstd"
    options["compression_level"] = 3  # zstd's default: level 9 writes 3x slower for 0.4% less, 19 17x slower for 8% less
    batch_size = get_writer_batch_size_from_features(features) or get_writer_batch_size_from_data_size(
        len(dataset), dataset._estimate_nbytes()
    )
    with pq.ParquetWriter(
        path,
        features.arrow_schema,
        use_content_defined_chunking=datasets.config.DEFAULT_CDC_OPTIONS,
        write_page_index=True,
        **options,
    ) as writer:
        for batch in dataset.with_format("arrow").iter(batch_size=batch_size):
            writer.write_table(embed_table_storage(batch))


def write_preview(image: Image.Image, config: str, out_dir: Union[str, os.PathLike], *, force: bool = False) -> str:
    """Save a config's preview picture as ``out_dir/previews/CONFIG.png``; returns that path relative to ``out_dir``.

    A picture there that export did not write is an :class:`~publish.folder.OverwriteError`, unless ``force``.
    """
    png = io.BytesIO()
    image.save(png, format="PNG", optimize=False)
    with locked(out_dir) as out_dir:
        check_preview(out_dir, config, force=force)
        (out_dir / preview_path(config)).parent.mkdir(exist_ok=True)
        write_file(out_dir, preview_path(config), png.getvalue())
    return preview_path(config)


def export_builder(
    builder,
    out_dir: Union[str, os.PathLike],
    *,
    max_shard_size: Union[int, str] = DEFAULT_MAX_SHARD_SIZE,
    min_shards: int = DEFAULT_MIN_SHARDS,
    force: bool = False,
) -> list[str]:
    """Write a finished build's shards and preview into ``out_dir`` (not the card); returns the paths written."""
    config = builder.config
    if config.resample != "box" or config.classes is not None:
        # A Hub config is known by its name alone: options the name does not record would mislabel it.
        raise ExportLayoutError(
            f"{config.name} was built with options its name does not record "
            f"(resample={config.resample!r}, classes={config.classes}): only default variants can be exported"
        )
    written = write_config(builder.as_dataset(), config.name, out_dir, max_shard_size=max_shard_size,
                           min_shards=min_shards, force=force)
    written.append(write_preview(builder_preview(builder), config.name, out_dir, force=force))
    return written


def export(
    config_names: Sequence[str],
    data_dir: Union[str, os.PathLike],
    out_dir: Union[str, os.PathLike],
    *,
    cache_dir: Optional[str] = None,
    num_proc: Optional[int] = None,
    max_shard_size: Union[int, str] = DEFAULT_MAX_SHARD_SIZE,
    min_shards: int = DEFAULT_MIN_SHARDS,
    repo_id: Optional[str] = None,
    default_config: Optional[str] = None,
    force: bool = False,
) -> dict[str, list[str]]:
    """Build the configs (reusing finished builds; the others in one pass over the download, each image read
    and decoded once for all: ``imagenet_tiny.prepare_variants``) and export each into ``out_dir``, then
    regenerate the card.

    Returns the paths written per config, relative to ``out_dir``. ``repo_id`` only fills the card's
    loading snippet. ``default_config``: the config that ``load_dataset(out_dir)`` loads, one of
    ``config_names`` or of those already in ``out_dir``; without it, the card's default stays, or else
    the first of ``config_names`` becomes it. ``force``: replace a card, previews and config folders that
    export did not write (otherwise an :class:`~publish.folder.OverwriteError` before any build).
    """
    from imagenet_tiny import prepare_variants

    convert_file_size_to_int(max_shard_size)  # every argument checked before the first (long) build
    check_min_shards(min_shards)
    for name in config_names:
        if not is_config_name(name):
            parse_config_name(name)
            raise ExportLayoutError(f"{name!r} is not a canonical config name (leave out '-crop', the default)")
    check_export(out_dir, config_names, force=force)
    default = choose_default_config({*config_names, *exported_configs(out_dir)}, default_config,
                                    folder_default_config(out_dir), fallback=next(iter(config_names), None))
    written = {}
    builders = prepare_variants(config_names, os.fspath(data_dir), cache_dir=cache_dir, num_proc=num_proc)
    for name, builder in zip(config_names, builders):
        written[name] = export_builder(builder, out_dir, max_shard_size=max_shard_size, min_shards=min_shards,
                                       force=force)
        # After each config, so that the card never lags what DIR holds; the default once it is there.
        write_card(out_dir, repo_id=repo_id, default_config=default if default in exported_configs(out_dir) else None,
                   force=force)
    return written


def check_export(out_dir: Union[str, os.PathLike], config_names: Sequence[str], *, force: bool = False) -> None:
    """Raise :class:`~publish.folder.OverwriteError` if exporting ``config_names`` would replace what export did not write.

    The writers check again as they write; this says it before the (long) builds, as it says that a folder
    of another config, which the card would list, is not one (an :class:`ExportLayoutError`).
    """
    for name in config_names:
        check_config_folder(out_dir, name, force=force)
        check_preview(out_dir, name, force=force)
    check_card(out_dir, force=force)
    for name in set(exported_configs(out_dir)) - set(config_names):
        config_shards(out_dir, name)
