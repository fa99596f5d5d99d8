"""Streaming an export with several ``DataLoader`` workers: a large split is written as enough Parquet files.

torch is not installed here, so the tests check what the workers rely on. ``datasets``' ``IterableDataset``
gives ``DataLoader`` worker ``i`` of ``n`` the files ``i, i + n, ...`` (``_iter_pytorch`` calls
``shard_data_sources(n, i, contiguous=False)``, as ``ds.shard(n, i, contiguous=False)`` does), and stops
the workers beyond ``n_shards``; ``split_dataset_by_node`` (timm's ``hfids`` reader, several machines)
gives each node its own files the same way when their count divides evenly.
"""

from __future__ import annotations

import io

import datasets
import pytest
from datasets.distributed import split_dataset_by_node
from PIL import Image

from publish.card import config_shards, write_card
from publish.export import DEFAULT_MIN_SHARDS, shard_count, write_config

CONFIG = "8x8-sRGB-50"
ROWS = 8_000
WORKERS = 8
SAMPLE_IMAGES = 50


@pytest.fixture(scope="module")
def rows(sample_dir) -> datasets.Dataset:
    """8,000 rows of 8x8 PNGs made from real sample images (each used 160 times); ``image_id`` tells rows apart."""
    files = sorted(sample_dir.glob("*.JPEG"))[:SAMPLE_IMAGES]
    pngs = []
    for path in files:
        with Image.open(path) as image:
            image.draft("RGB", (64, 64))
            png = io.BytesIO()
            image.convert("RGB").resize((8, 8), Image.Resampling.BOX).save(png, format="PNG")
        pngs.append(png.getvalue())
    features = datasets.Features({
        "image": datasets.Image(),
        "label": datasets.ClassLabel(names=[path.name.split("_")[0] for path in files]),
        "image_id": datasets.Value("string"),
    })
    return datasets.Dataset.from_dict(
        {
            "image": [{"bytes": pngs[i % SAMPLE_IMAGES], "path": None} for i in range(ROWS)],
            "label": [i % SAMPLE_IMAGES for i in range(ROWS)],
            "image_id": [f"row-{i:05d}" for i in range(ROWS)],
        },
        features=features,
    )


def image_ids(dataset: datasets.IterableDataset) -> list[str]:
    return [row["image_id"] for row in dataset.select_columns(["image_id"])]


def test_a_split_of_8000_rows_streams_to_8_workers_each_reading_its_own_files(rows, tmp_path):
    out = tmp_path / "export"
    write_config({"train": rows, "validation": rows.select(range(999))}, CONFIG, out)
    write_card(out)
    shards = config_shards(out, CONFIG)
    assert len(shards["train"]) == WORKERS and len(shards["validation"]) == 1  # a small split stays one file

    ds = datasets.load_dataset(str(out), CONFIG, split="train", streaming=True)
    assert ds.n_shards == WORKERS
    everything = sorted(rows["image_id"])
    per_worker = [image_ids(ds.shard(num_shards=WORKERS, index=i, contiguous=False)) for i in range(WORKERS)]
    assert all(len(ids) == ROWS // WORKERS for ids in per_worker)  # none idle, none with more than its share
    assert sorted(i for ids in per_worker for i in ids) == everything  # every row once
    per_node = [split_dataset_by_node(ds, rank=i, world_size=WORKERS) for i in range(WORKERS)]
    assert [node.num_shards for node in per_node] == [1] * WORKERS
    assert sorted(i for node in per_node for i in image_ids(node)) == everything


def test_min_shards_is_configurable_and_small_splits_stay_small(rows, tmp_path, run_cli):
    write_config({"train": rows}, CONFIG, tmp_path / "two", min_shards=2)
    assert len(config_shards(tmp_path / "two", CONFIG)["train"]) == 2
    with pytest.raises(ValueError, match="min_shards .* at least 1, not 0"):
        write_config({"train": rows}, CONFIG, tmp_path / "none", min_shards=0)
    assert not (tmp_path / "none" / CONFIG).exists()

    big = 10**9
    assert shard_count(ROWS, 1, big) == DEFAULT_MIN_SHARDS
    assert shard_count(ROWS - 1, 1, big) == 7  # never fewer than 1,000 rows a file for the sake of min_shards
    assert shard_count(999, 1, big) == 1 and shard_count(0, 0, big) == 1
    assert shard_count(10**6, 1, big, min_shards=32) == 32
    assert shard_count(ROWS, 20 * big, big) == 21  # the byte limit asks for more
    assert shard_count(5, 20 * big, big) == 5  # but never more files than rows

    result = run_cli("export", "8x8-gray-5", "--data-dir", tmp_path, "--to", tmp_path / "cli", "--min-shards", "0")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "min_shards (--min-shards) must be a whole number of at least 1, not 0" in result.stderr
