"""The dataset card (``README.md``) of an exported folder or Hub repository: generated from what it holds.

The card is the download section: what ImageNet-tiny is, a table of the variants, how to load, make and
evaluate them, ImageNet's terms of access, citations and a preview per config. Its YAML front matter is
made with ``huggingface_hub``'s :class:`DatasetCardData` and ``datasets``' own writers of the ``configs``
(``data_files`` per split) and ``dataset_info`` (features, splits, sizes) fields, the same that
``push_to_hub`` writes, so ``load_dataset(DIR_OR_REPO, CONFIG)`` reads it as any Hub dataset. One config
is marked ``default: true`` (as ``push_to_hub`` marks it), so ``load_dataset(DIR_OR_REPO)`` without a
config, and timm's ``hfds/`` and ``hfids/`` readers, load that one (:func:`choose_default_config`). The
front matter also carries ImageNet's terms as the Hub's access gate (``extra_gated_prompt`` and
``extra_gated_fields``), which the Hub shows once the repo is gated (``publish --gated``).

Nothing in the card is stored elsewhere: each config's entry comes from its Parquet footers
(:func:`config_info`), so the card can be regenerated whenever configs come and go (:func:`write_card`).
The card holds no date and no path of this machine, so the same data give the same card, byte for byte.
It is written only over a card that export wrote (``publish.folder``): recorded in the folder's manifest,
or, in a folder exported before there was one, recognised by its content (:func:`is_generated_card`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Collection, Mapping, Optional

import datasets
import pyarrow.parquet as pq
import yaml
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData

from builder.config import ConfigNameError, config_name, parse_config_name
from builder.errors import ImageNetTinyError
from imagenet_tiny import _CITATION as ILSVRC_CITATION
from publish.folder import check_replaceable, locked, write_file

CARD_FILENAME = "README.md"
PREVIEW_DIR = "previews"
SHARD_PATTERN = re.compile(r"(?P<split>\w+?)-(?P<index>\d{5})-of-(?P<count>\d{5})\.parquet")
PLACEHOLDER_REPO_ID = "<namespace>/imagenet-tiny"
SPLIT_ORDER = ("train", "validation", "test")
PRETTY_NAME = "ImageNet-tiny"
LICENSE_NAME = "imagenet-terms-of-access"
CARD_OPENING = "# ImageNet-tiny\n\nImageNet, small:"  # how the card's text begins, after the front matter

# ImageNet's terms of access, as the Hub's own ImageNet copies ask for them before any download.
GATE_PROMPT = "\n\n".join([
    "By requesting access you agree to ImageNet's terms of access (https://image-net.org/download):",
    '1. You (the "Researcher") shall use the images only for non-commercial research and educational purposes.',
    "2. Princeton University, Stanford University, the ImageNet team and the authors of ImageNet-tiny make no "
    "representations or warranties regarding the images, including but not limited to warranties of "
    "non-infringement or fitness for a particular purpose.",
    "3. The Researcher accepts full responsibility for his or her use of the images and shall defend and indemnify "
    "the ImageNet team, Princeton University and Stanford University, including their employees, trustees, officers "
    "and agents, against any and all claims arising from the Researcher's use of the images, including but not "
    "limited to the use of any copies of copyrighted images that he or she may create from them.",
    "4. The Researcher may provide research associates and colleagues with access to the images provided that "
    "they first agree to be bound by these terms.",
    "5. Princeton University and Stanford University reserve the right to terminate the Researcher's access to the "
    "images at any time.",
    "6. If the Researcher is employed by a for-profit, commercial entity, the Researcher's employer shall also be "
    "bound by these terms, and the Researcher represents that he or she is fully authorized to enter into this "
    "agreement on behalf of such employer.",
    "7. The law of the State of New Jersey shall apply to all disputes under this agreement.",
])
GATE_FIELDS = {
    "Name": "text",
    "Affiliation": "text",
    "I agree to use this dataset for non-commercial use ONLY": "checkbox",
}


class ExportLayoutError(ImageNetTinyError, ValueError):
    """A folder that is not (or no longer) a consistent export: missing shards, mixed features, stray files."""


class DefaultConfigError(ImageNetTinyError, ValueError):
    """A default config asked for that the card would not list."""


def shard_name(split: str, index: int, count: int) -> str:
    """``SPLIT-XXXXX-of-YYYYY.parquet``, the name ``push_to_hub`` gives shards too."""
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def preview_path(config: str) -> str:
    """Where a config's preview picture lives, relative to the folder or repository root."""
    return f"{PREVIEW_DIR}/{config}.png"


def is_config_name(name: str) -> bool:
    """Whether ``name`` is a canonical ImageNet-tiny config name (``crop`` left out, as the builder names it)."""
    try:
        return config_name(**parse_config_name(name)) == name
    except ConfigNameError:
        return False


def exported_configs(out_dir: str | os.PathLike) -> list[str]:
    """The configs that ``out_dir`` holds: its folders named as configs, in the card's order."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    return sort_configs(p.name for p in out_dir.iterdir() if p.is_dir() and is_config_name(p.name))


def sort_configs(names: Collection[str]) -> list[str]:
    """By size, then colour, then number of classes (full last), then fit mode."""

    def key(name: str):
        f = parse_config_name(name)
        return (f["width"] * f["height"], f["width"], f["color"], f["num_classes"] or 10**9, f["fit_mode"])

    return sorted(names, key=key)


def config_shards(out_dir: str | os.PathLike, config: str) -> dict[str, list[Path]]:
    """Each split's shard files of ``config`` in ``out_dir``, in order; every shard of a split must be there."""
    folder = Path(out_dir) / config
    shards: dict[str, dict[int, Path]] = {}
    counts: dict[str, set[int]] = {}
    for path in sorted(folder.iterdir()):
        match = SHARD_PATTERN.fullmatch(path.name)
        if match is None:
            raise ExportLayoutError(
                f"{path} is not a shard of {config} (expected SPLIT-XXXXX-of-YYYYY.parquet): remove it or export {config} again"
            )
        shards.setdefault(match["split"], {})[int(match["index"])] = path
        counts.setdefault(match["split"], set()).add(int(match["count"]))
    if not shards:
        raise ExportLayoutError(f"{folder} holds no Parquet shards: export {config} again, or remove the folder")
    out = {}
    for split in sort_splits(shards):
        (count, *others) = sorted(counts[split])
        missing = sorted(set(range(count)) - set(shards[split]))
        if others or missing or len(shards[split]) != count:
            raise ExportLayoutError(
                f"{folder}: the {split} shards are incomplete or mixed (shard counts {sorted(counts[split])}, "
                f"missing {[shard_name(split, i, count) for i in missing][:5]}): export {config} again"
            )
        out[split] = [shards[split][i] for i in range(count)]
    return out


def sort_splits(splits: Collection[str]) -> list[str]:
    return sorted(splits, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))


def config_info(out_dir: str | os.PathLike, config: str) -> datasets.DatasetInfo:
    """A config's features, splits and sizes, read from its Parquet footers alone (no data is read).

    ``num_bytes`` per split is the uncompressed size that the footers record, as ``datasets`` estimates
    it; ``download_size`` is the Parquet files' size.
    """
    features = None
    splits = datasets.SplitDict()
    download_size = 0
    for split, paths in config_shards(out_dir, config).items():
        num_examples = num_bytes = 0
        for path in paths:
            parquet = pq.ParquetFile(path)
            shard_features = datasets.Features.from_arrow_schema(parquet.schema_arrow)
            if features is None:
                features = shard_features
            elif shard_features != features:
                raise ExportLayoutError(f"{path} has other features than the rest of {config}: export {config} again")
            metadata = parquet.metadata
            num_examples += metadata.num_rows
            num_bytes += sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
            download_size += path.stat().st_size
        splits.add(datasets.SplitInfo(name=split, num_bytes=num_bytes, num_examples=num_examples))
    return datasets.DatasetInfo(
        config_name=config,
        features=features,
        splits=splits,
        download_size=download_size,
        dataset_size=sum(s.num_bytes for s in splits.values()),
    )


def card_infos(card: DatasetCard) -> dict[str, datasets.DatasetInfo]:
    """The per-config infos that a card made by :func:`build_card` records (to carry configs over on the Hub)."""
    infos = DatasetInfosDict.from_dataset_card_data(card.data)
    return {name: info for name, info in infos.items() if is_config_name(name)}


def card_default_config(card: DatasetCard) -> Optional[str]:
    """The config that ``load_dataset`` loads from this card's folder or repo without a config name, if any.

    ``datasets``' own rule: the config marked ``default: true``, or the only one; None for a card with
    several marked, or none of several.
    """
    try:
        return MetadataConfigs.from_dataset_card_data(card.data).get_default_config_name()
    except ValueError:
        return None


def folder_default_config(out_dir: str | os.PathLike) -> Optional[str]:
    """The default config of ``out_dir``'s card (:func:`card_default_config`); None without a readable card."""
    path = Path(out_dir) / CARD_FILENAME
    try:
        return card_default_config(DatasetCard.load(path))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return None


def choose_default_config(
    configs: Collection[str],
    requested: Optional[str] = None,
    existing: Optional[str] = None,
    fallback: Optional[str] = None,
) -> Optional[str]:
    """The config the card marks as default: ``requested``, else ``existing`` while it is listed, else
    ``fallback`` (the first config exported), else the first in the card's order.

    Keeping the existing default keeps ``load_dataset(repo)`` loading what it loaded before a config was
    added; ``requested`` must be one of ``configs`` (a :class:`DefaultConfigError` otherwise).
    """
    if requested is not None:
        if requested not in configs:
            raise DefaultConfigError(
                f"the default config {requested!r} is not among the configs the card lists "
                f"({', '.join(sort_configs(configs)) or 'none'}): export or publish it too, or choose one of those"
            )
        return requested
    for candidate in (existing, fallback):
        if candidate in configs:
            return candidate
    return next(iter(sort_configs(configs)), None)


def build_card(
    infos: Mapping[str, datasets.DatasetInfo],
    previews: Collection[str] = (),
    repo_id: Optional[str] = None,
    default_config: Optional[str] = None,
) -> DatasetCard:
    """The card for the configs ``infos`` (name -> info); ``previews``: the configs that have a preview picture.

    ``default_config``: the config marked ``default: true`` (default: the first in the card's order).
    """
    names = sort_configs(infos)
    default = choose_default_config(names, default_config)
    card_data = DatasetCardData(
        pretty_name=PRETTY_NAME,
        license="other",
        license_name=LICENSE_NAME,
        license_link="https://image-net.org/download",
        task_categories=["image-classification", "object-detection"],
        task_ids=["multi-class-image-classification"],
        size_categories=[_size_category(max((_total_examples(infos[n]) for n in names), default=0))],
        tags=["imagenet", "ilsvrc", "downsampled", "tiny-images"],
        extra_gated_prompt=GATE_PROMPT,
        extra_gated_fields=GATE_FIELDS,
    )
    ordered = {name: infos[name] for name in names}
    DatasetInfosDict(ordered).to_dataset_card_data(card_data)
    MetadataConfigs(
        {
            name: {
                "data_files": [{"split": s, "path": f"{name}/{s}-*"} for s in sort_splits(info.splits)],
                **({"default": True} if name == default else {}),  # as push_to_hub(set_default=True) marks it
            }
            for name, info in ordered.items()
        }
    ).to_dataset_card_data(card_data)
    body = _body(ordered, default, [n for n in names if n in previews], repo_id or PLACEHOLDER_REPO_ID)
    return DatasetCard(f"---\n{card_data.to_yaml()}\n---\n{body}")


def write_card(
    out_dir: str | os.PathLike,
    *,
    repo_id: Optional[str] = None,
    carried: Optional[Mapping[str, datasets.DatasetInfo]] = None,
    carried_previews: Collection[str] = (),
    default_config: Optional[str] = None,
    force: bool = False,
) -> DatasetCard:
    """(Re)write ``out_dir/README.md`` for the configs in ``out_dir`` and return the card.

    ``carried``: configs that are not in ``out_dir`` but stay listed (those already on the Hub when
    publishing others); a config in ``out_dir`` takes precedence. ``carried_previews``: which of them
    have a preview picture there. ``default_config``: the config marked default; without it, the
    default of the card being replaced stays while it is listed, else the first config is marked
    (:func:`choose_default_config`). A ``README.md`` that export did not write is an
    :class:`~publish.folder.OverwriteError`, unless ``force``; the card is written whole or not at all.
    """
    with locked(out_dir) as out_dir:
        check_card(out_dir, force=force)
        infos = dict(carried or {})
        infos.update({name: config_info(out_dir, name) for name in exported_configs(out_dir)})
        previews = {n for n in infos if (out_dir / preview_path(n)).is_file()} | (set(carried_previews) & set(carried or ()))
        default = choose_default_config(infos, default_config, folder_default_config(out_dir))
        card = build_card(infos, previews, repo_id, default)
        write_file(out_dir, CARD_FILENAME, str(card).encode("utf-8"))  # as DatasetCard.save writes it
    return card


def check_card(out_dir: str | os.PathLike, *, force: bool = False) -> None:
    """Raise :class:`~publish.folder.OverwriteError` if ``out_dir/README.md`` is there and export did not write it."""
    check_replaceable(out_dir, CARD_FILENAME, recognised=is_generated_card, force=force)


def is_generated_card(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds a card as :func:`build_card` makes them: its front matter's name and licence, its opening.

    How the card of a folder exported before folders had a manifest is told from a project's own README.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    match = re.fullmatch(r"---\n(.*?)\n---\n(.*)", text, re.DOTALL)
    if match is None:
        return False
    try:
        data = yaml.safe_load(match[1])
    except yaml.YAMLError:
        return False
    return (
        isinstance(data, dict)
        and data.get("pretty_name") == PRETTY_NAME
        and data.get("license_name") == LICENSE_NAME
        and match[2].lstrip("\n").startswith(CARD_OPENING)
    )


# --- the card's text ------------------------------------------------------------------------------

def _total_examples(info: datasets.DatasetInfo) -> int:
    return sum(s.num_examples for s in info.splits.values())


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M"


def variant_row(name: str, info: datasets.DatasetInfo) -> dict[str, str]:
    """One row of the variants table, as the card shows it (tests read the card back with this)."""
    fields = parse_config_name(name)
    label = info.features["label"] if info.features and "label" in info.features else None
    row = {
        "config": f"`{name}`",
        "image size": f"{fields['width']}x{fields['height']}",
        "colour": fields["color"],
        "classes": str(label.num_classes) if label is not None else "?",
        "fit mode": fields["fit_mode"],
    }
    for split in SPLIT_ORDER:
        row[split] = f"{info.splits[split].num_examples:,}" if split in info.splits else "-"
    row["Parquet bytes"] = f"{info.download_size:,}"
    return row


def _table(infos: Mapping[str, datasets.DatasetInfo]) -> str:
    rows = [variant_row(name, info) for name, info in infos.items()]
    if not rows:
        return "_No variant has been exported yet._"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row[h] for h in header) + " |" for row in rows]
    return "\n".join(lines)


def _body(infos: Mapping[str, datasets.DatasetInfo], default: Optional[str], previews: list[str], repo_id: str) -> str:
    example = next(iter(infos), "16x16-sRGB-10")
    other = next((name for name in infos if name != default), example)
    shape = parse_config_name(default or example)
    input_size = f"{3 if shape['color'] == 'sRGB' else 1} {shape['height']} {shape['width']}"  # timm's C H W
    label = (infos[default].features or {}).get("label") if default else None
    num_classes = label.num_classes if isinstance(label, datasets.ClassLabel) else 1000
    rename = f"\nmv imagenet-tiny/{other} imagenet-tiny/{other.lower()}" if other != other.lower() else ""
    preview_lines = "\n\n".join(f"**{n}**\n\n![{n}: originals and tiny versions]({preview_path(n)})" for n in previews)

    return f"""
{CARD_OPENING} the images, classes and splits of the ILSVRC 2012 classification-localization challenge,
downscaled to tiny sizes (8x8 to 64x64, or any other), in grayscale or sRGB, with all 1000 classes or a
subset, with the ground-truth boxes mapped into tiny-image coordinates. Each variant is a named config.

## Variants

{_table(infos)}

Image size is width x height in pixels; *gray* is one channel (ITU-R BT.601 luma of the sRGB image), *sRGB*
three. Fit mode: *crop* keeps the aspect ratio and takes the centre, *pad* keeps it and centres the image
on black, *squash* ignores it. Parquet bytes is the download size of the config.

## Loading

The default config is `{default or example}`: loading the repository without a config name gives it.

```python
from datasets import load_dataset

ds = load_dataset("{repo_id}")   # the default config, {default or example}
ds = load_dataset("{repo_id}", "{other}")
ds["train"][0]   # {{'image': <PIL.Image>, 'label': 0, 'words': ..., 'image_id': ..., 'bboxes': [...], ...}}
```

A config's folder works as well: `load_dataset("{repo_id}", data_dir="{other}")`.

Each example holds:

| feature | |
|---|---|
| `image` | exactly W x H, mode `L` (gray) or `RGB` (sRGB), stored as PNG |
| `label` | index into the config's WNIDs in sorted order (`ds["train"].features["label"].names`); for `full` configs the same index as torchvision's ImageFolder and timm; -1 in `test` |
| `words` | the class's names, e.g. `tench, Tinca tinca` |
| `image_id` | the source file's stem, e.g. `n01440764_10026`, `ILSVRC2012_val_00000001` |
| `bboxes` | ground-truth boxes `[xmin, ymin, xmax, ymax]` in tiny-image pixel-edge coordinates (0..W, 0..H), mapped through the same crop/pad/squash as the pixels |
| `original_width`, `original_height` | the source image's size, to map boxes back to the original |

Configs with a class count (`-5`, `-10`, `-100`) have the train and validation splits; `full` configs also
have the unlabelled test split when it was built from a download that has it.

### As arrays

All pixels of a split as one array, with the ImageNet-tiny package installed: the first
call decodes the images and keeps the array beside the `datasets` cache, later calls memory-map it.

```python
from imagenet_tiny import load_arrays

x, y = load_arrays("{repo_id}", "{example}", "train")   # uint8 (N, H, W, C) and int64 (N,)
```

### Streaming

`load_dataset("{repo_id}", "{example}", split="train", streaming=True)` reads the Parquet files as they come.
A `DataLoader` worker reads whole files: `imagenet-tiny export` and `publish` write a split of 8,000 rows or
more as at least 8 files (`--min-shards`), so that up to 8 workers each have their own.

### timm

timm's `hfds/` (and, streaming, `hfids/`) datasets load the default config:

```sh
python train.py --dataset hfds/{repo_id} --train-split train --val-split validation \\
    --model resnet18 --num-classes {num_classes} --input-size {input_size}
python validate.py --dataset hfds/{repo_id} --split validation \\
    --model resnet18 --num-classes {num_classes} --input-size {input_size} --checkpoint output/train/RUN/model_best.pth.tar
```

timm lowercases the dataset name, so the repo id (or folder) must be lowercase. For another config,
download its folder and give timm that folder (renamed in lowercase where the config's name has capitals):

```sh
hf download {repo_id} --repo-type dataset --include "{other}/*" --local-dir imagenet-tiny{rename}
python train.py --dataset hfds/imagenet-tiny/{other.lower()} --train-split train --val-split validation ...
```

## How the variants were made, and how to make others

Each variant was built from the ILSVRC 2012 download by the ImageNet-tiny `datasets` builder: every JPEG is
decoded at a scale that depends on the image alone, the same for every size up to 64x64 (libjpeg's DCT-domain
1/1, 1/2, 1/4 or 1/8, keeping at least 192 pixels along the shorter side: most ImageNet JPEGs are decoded in
full), fitted (crop, pad or squash), resampled with a box filter, colour-managed to sRGB (embedded ICC
profiles and CMYK converted; gray is the JPEG's own BT.601 luma) and stored as PNG. A variant's pixels do
not depend on which others were built with it. The 5-class selection is the Matlab version's; other class
counts take classes evenly spaced over the sorted WNIDs. Output is deterministic.

Any name of the grammar `{{W}}x{{H}}-{{gray|sRGB}}-{{N|full}}[-{{crop|pad|squash}}]` is a variant. With your own
ImageNet download (Kaggle or devkit layout) and the ImageNet-tiny package:

```sh
imagenet-tiny generate 48x48-sRGB-100-pad --data-dir /data/imagenet --num-proc 8
imagenet-tiny export 48x48-sRGB-100-pad --data-dir /data/imagenet --to ./imagenet-tiny-export
```

## Evaluating

Score predictions exactly as the ILSVRC devkit did (classification error for k = 1..5 guesses and, with
boxes, classification-with-localization error) with the metric that the ImageNet-tiny package installs:

```python
import evaluate
import imagenet_tiny

clsloc = evaluate.load(imagenet_tiny.METRIC_PATH)
clsloc.compute(predictions=[[3, 7], [2, 5]], references=[7, 1], max_guesses=2)
# with boxes in tiny-image coordinates: guesses and references as {{"label": l, "bbox": [xmin, ymin, xmax, ymax]}}
# and box_convention="continuous"
```

## Terms of access

The images remain under ImageNet's terms of access: they may be used for non-commercial research and
educational purposes only, the images are not owned by ImageNet or by the authors of ImageNet-tiny, and
whoever uses them accepts full responsibility for that use. This is why the license is `other`: downscaling
changes nothing about these terms. Read and accept them at https://image-net.org/download before using
this dataset; where the repository is gated, the Hub asks for them before the first download. ImageNet-tiny's
code is under the Apache 2.0 license; this dataset is not.

## Previews

Originals beside their tiny versions, one image per class for a few classes of each config.

{preview_lines or "_No preview._"}

## Citation

The ILSVRC dataset:

```bibtex
{ILSVRC_CITATION.strip()}
```

Downsampled ImageNet, the idea that ImageNet-tiny follows:

```bibtex
@article{{chrabaszcz2017downsampled,
  author  = {{Patryk Chrabaszcz and Ilya Loshchilov and Frank Hutter}},
  title   = {{A Downsampled Variant of ImageNet as an Alternative to the {{CIFAR}} datasets}},
  journal = {{arXiv preprint arXiv:1707.08819}},
  year    = {{2017}}
}}

@inproceedings{{vandenoord2016pixel,
  author    = {{A{{\\"a}}ron van den Oord and Nal Kalchbrenner and Koray Kavukcuoglu}},
  title     = {{Pixel Recurrent Neural Networks}},
  booktitle = {{Proceedings of the 33rd International Conference on Machine Learning (ICML)}},
  year      = {{2016}}
}}
```
"""
