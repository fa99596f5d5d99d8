"""The Hub's copies of ImageNet, laid out as their repositories are, made from a Kaggle-layout source.

Each layout is written from the very images of a :class:`source_factory.MadeSource` (the shared sample's
real JPEGs), so that a build from it must give the rows of the Kaggle build. What each layout holds,
and the public sources of each fact, are in ``builder/sources/hub_layouts.py``; here:

- ``ILSVRC/imagenet-1k``, Parquet: ``data/{split}-NNNNN-of-NNNNN.parquet`` written by ``datasets`` (as the
  Hub's were) with features ``image`` (``Image``: ``bytes`` and ``path``) and ``label`` (``ClassLabel`` over
  ``classes.py``'s words; -1 in test); paths ``<id>_<wnid>.JPEG`` (``<id>.JPEG`` in test). The training rows
  go in class order, shard after shard, as the loading script read them from class-ordered archives (the
  real order is not documented; what a build reads of it depends only on the row groups' label
  statistics). Row groups hold ``ROW_GROUP`` rows here (the Hub's hold 100) so that a shard has several.
- ``ILSVRC/imagenet-1k``, ``.tar.gz``: ``data/train_images_{0..4}.tar.gz`` (the training images in class
  order, split into five), ``data/val_images.tar.gz``, ``data/test_images.tar.gz``; flat members named as above.
- ``timm/imagenet-1k-wds``: ``imagenet1k-train-NNNN.tar``, ``imagenet1k-validation-NN.tar`` and ``_info.json``
  (timm's split info); samples ``<id>.jpg``, ``<id>.cls`` (sorted-WNID index), ``<id>.json``, shuffled
  across the shards; no test split.

``classes.py`` is written in the repository's form from the real ``LOC_synset_mapping.txt``, with the one
difference of words known (``n03126707`` is ``crane2`` in it).
"""

from __future__ import annotations

import io
import json
import random
import tarfile
from pathlib import Path
from typing import Sequence

import datasets

from builder.synthetic import MadeImage, MadeSource

ROW_GROUP = 4
CLASSES_PY_WORDS = {"n03126707": "crane2"}  # where ILSVRC/imagenet-1k's classes.py differs from Kaggle's words


def classes_py(ilsvrc_dir: Path) -> str:
    """``classes.py`` as ILSVRC/imagenet-1k has it: ``IMAGENET2012_CLASSES``, an OrderedDict in sorted WNID order."""
    rows = []
    for line in (ilsvrc_dir / "LOC_synset_mapping.txt").read_text().splitlines():
        wnid, _, words = line.partition(" ")
        rows.append(f"        {json.dumps(wnid)}: {json.dumps(CLASSES_PY_WORDS.get(wnid, words))},")
    return "from collections import OrderedDict\n\n\nIMAGENET2012_CLASSES = OrderedDict(\n    {\n" + "\n".join(rows) + "\n    }\n)\n"


def class_names(ilsvrc_dir: Path) -> list[str]:
    return [line.partition(" ")[0] for line in (ilsvrc_dir / "LOC_synset_mapping.txt").read_text().splitlines()]


def hub_name(image: MadeImage) -> str:
    """The file name ILSVRC/imagenet-1k gives an image: the ILSVRC stem, then its WNID (none in test)."""
    return f"{image.image_id}.JPEG" if image.wnid is None else f"{image.image_id}_{image.wnid}.JPEG"


def _chunks(items: Sequence, count: int) -> list[list]:
    return [list(items[len(items) * i // count : len(items) * (i + 1) // count]) for i in range(count)]


def _train_in_class_order(made: MadeSource) -> list[MadeImage]:
    return sorted(made.train, key=lambda image: image.image_id)


def make_parquet_snapshot(root: Path, made: MadeSource, ilsvrc_dir: Path, shards: dict[str, int]) -> dict[str, bytes]:
    """ILSVRC/imagenet-1k as it is today, in ``root``; ``shards``: how many files each split has. Returns
    the files written (relative path -> content), to seed a local Hub with."""
    wnids = class_names(ilsvrc_dir)
    words = [CLASSES_PY_WORDS.get(w, words) for w, words in zip(wnids, _words(ilsvrc_dir))]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=words)})
    images = {"train": _train_in_class_order(made), "validation": made.validation, "test": made.test}
    files = {"classes.py": classes_py(ilsvrc_dir).encode()}
    for split, count in shards.items():
        for index, chunk in enumerate(_chunks(images[split], count)):
            rows = {
                "image": [{"bytes": image.path.read_bytes(), "path": hub_name(image)} for image in chunk],
                "label": [-1 if image.wnid is None else wnids.index(image.wnid) for image in chunk],
            }
            buffer = io.BytesIO()
            datasets.Dataset.from_dict(rows, features=features).to_parquet(buffer, batch_size=ROW_GROUP)
            files[f"data/{split}-{index:05d}-of-{count:05d}.parquet"] = buffer.getvalue()
    return _write(root, files)


def make_tar_gz_snapshot(root: Path, made: MadeSource, ilsvrc_dir: Path) -> dict[str, bytes]:
    """ILSVRC/imagenet-1k as its loading script read it (until 2024), in ``root``."""
    archives = {f"data/train_images_{i}.tar.gz": chunk for i, chunk in enumerate(_chunks(_train_in_class_order(made), 5))}
    archives["data/val_images.tar.gz"] = made.validation
    if made.test:
        archives["data/test_images.tar.gz"] = made.test
    files = {"classes.py": classes_py(ilsvrc_dir).encode()}
    for name, chunk in archives.items():
        files[name] = _tar({hub_name(image): image.path.read_bytes() for image in chunk}, compress=True)
    return _write(root, files)


def make_wds_snapshot(root: Path, made: MadeSource, ilsvrc_dir: Path, shards: dict[str, int], seed: int = 0) -> dict[str, bytes]:
    """timm/imagenet-1k-wds in ``root``: train and validation, shuffled across ``shards[split]`` tars."""
    wnids = class_names(ilsvrc_dir)
    files: dict[str, bytes] = {}
    info = {"name": "imagenet-1k", "splits": {}}
    for split, images in (("train", list(made.train)), ("validation", list(made.validation))):
        random.Random(seed).shuffle(images)
        count, width = shards[split], 4 if split == "train" else 2
        names = [f"imagenet1k-{split}-{i:0{width}d}.tar" for i in range(count)]
        chunks = _chunks(images, count)
        for name, chunk in zip(names, chunks):
            members = {}
            for image in chunk:
                label = wnids.index(image.wnid)
                members[f"{image.image_id}.jpg"] = image.path.read_bytes()
                members[f"{image.image_id}.cls"] = str(label).encode()
                members[f"{image.image_id}.json"] = json.dumps({"filename": f"{image.image_id}.JPEG", "label": label}).encode()
            files[name] = _tar(members, compress=False)
        info["splits"][split] = {"name": split, "num_samples": len(images), "filenames": names,
                                 "shard_lengths": [len(chunk) for chunk in chunks]}
    files["_info.json"] = json.dumps(info, indent=1).encode()
    return _write(root, files)


def _words(ilsvrc_dir: Path) -> list[str]:
    return [line.partition(" ")[2] for line in (ilsvrc_dir / "LOC_synset_mapping.txt").read_text().splitlines()]


def _tar(members: dict[str, bytes], compress: bool) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compress else "w", format=tarfile.GNU_FORMAT) as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _write(root: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return files
