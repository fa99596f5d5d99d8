"""``imagenet-tiny classes``, ``to-numpy`` and ``preview``: the class table, a variant as plain arrays, and a picture of it."""

from __future__ import annotations

import argparse
import csv
import os
import sys

from builder.errors import InputError

ARRAY_FORMATS = ("npz", "mat", "imagenet32")


def register(commands: argparse._SubParsersAction) -> None:
    classes = commands.add_parser(
        "classes",
        help="print the class table (index, WNID, ILSVRC2014_ID, words, and your download's train images)",
        description=(
            "The class table as the Matlab dump_meta_clsloc_to_text wrote it, with the training images of each "
            "class in your download (whose class table file is checked against it)."
        ),
    )
    classes.add_argument("--data-dir", required=True, help="your ImageNet download (Kaggle or devkit layout)")
    classes.add_argument(
        "--meta", default=None,
        help="a meta_clsloc.mat (or .tsv) to check against ImageNet's class table (optional: the IDs ship with ImageNet-tiny)",
    )
    classes.add_argument("--csv", action="store_true", help="CSV instead of aligned text")
    classes.set_defaults(run=run_classes)

    arrays = commands.add_parser(
        "to-numpy",
        help="write a variant as x_train, y_train, x_val, y_val arrays (.npz or MATLAB .mat), or as Imagenet32 batch files",
        description=(
            "Write a variant's images (uint8, N x H x W x C) and labels (0-based class indices in sorted WNID "
            "order) with the class table (wnids, words), as .npz for numpy or .mat for MATLAB's load; or, with "
            "--format imagenet32, into a folder as Downsampled ImageNet's pickled train_data_batch_1..10 and "
            "val_data (Chrabaszcz et al. 2017: planar RGB rows, 1-based ILSVRC2014_ID labels, the mean image), "
            "which Imagenet16/32/64 training code reads unchanged."
        ),
    )
    arrays.add_argument("config", help="config name, e.g. 32x32-sRGB-10")
    source = arrays.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", help="build from your ImageNet download (reusing a finished build)")
    source.add_argument("--dataset", help="load an exported folder or a Hub repo id with load_dataset")
    arrays.add_argument("--to", required=True, help="output file, ending in .npz or .mat; a folder for --format imagenet32")
    arrays.add_argument(
        "--format", choices=ARRAY_FORMATS, default=None,
        help="npz, mat, or imagenet32 (Downsampled ImageNet's pickled batches; sRGB square configs); default: from --to's suffix",
    )
    arrays.add_argument(
        "--meta", default=None,
        help="imagenet32: a meta_clsloc.mat (or .tsv) to check against ImageNet's class table, whose "
        "ILSVRC2014_IDs label the batches (optional: the table ships with ImageNet-tiny)",
    )
    arrays.add_argument("--kaggle", action="store_true", help="also write test.csv and sample_submission.csv beside it (npz, mat)")
    arrays.add_argument("--cache-dir", default=None)
    arrays.add_argument("--num-proc", type=int, default=None)
    arrays.set_defaults(run=run_to_numpy)

    preview = commands.add_parser(
        "preview",
        help="draw originals beside their tiny versions, one per class (PNG)",
        description="What the Matlab plot_ImageNet_tiny_examples showed: for chosen classes, an original image beside its tiny version.",
    )
    preview.add_argument("config", help="config name, e.g. 16x16-sRGB-10")
    preview.add_argument("--data-dir", required=True, help="your ImageNet download, which holds the originals")
    preview.add_argument("--to", required=True, help="output PNG file")
    preview.add_argument("--classes", default=None, help="WNIDs to show, comma-separated (default: up to 6 spread over the classes)")
    preview.add_argument("--cache-dir", default=None)
    preview.add_argument("--num-proc", type=int, default=None)
    preview.set_defaults(run=run_preview)


def load_variant(config: str, data_dir: str | None, dataset: str | None, cache_dir: str | None = None, num_proc: int | None = None):
    """A variant's DatasetDict: built from a download, or loaded from an exported folder or the Hub."""
    if data_dir is not None:
        from imagenet_tiny import prepare_variant

        return prepare_variant(config, data_dir, cache_dir=cache_dir, num_proc=num_proc).as_dataset()
    import datasets

    return datasets.load_dataset(dataset, config, cache_dir=cache_dir)


def run_classes(args: argparse.Namespace) -> int:
    from builder.classes import checked_ilsvrc_classes
    from builder.sources import open_source

    table = checked_ilsvrc_classes(args.meta)
    counts = open_source(args.data_dir).train_image_counts()
    rows = [(i, wnid, table.ilsvrc2014_ids[i], table.words[i], counts[wnid]) for i, wnid in enumerate(table.wnids)]
    header = ("index", "wnid", "ILSVRC2014_ID", "words", "train_images")
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    else:
        print(f"{header[0]:>5}  {header[1]:<9}  {header[2]:>13}  {header[4]:>12}  {header[3]}")
        for index, wnid, ilsvrc_id, words, count in rows:
            print(f"{index:>5}  {wnid:<9}  {ilsvrc_id!s:>13}  {count:>12}  {words}")
    return 0


def array_format(to: str, chosen: str | None) -> str:
    """What ``to-numpy`` writes: ``--format`` where given (checked against ``--to``), else ``--to``'s suffix."""
    suffix = os.path.splitext(to)[1].lstrip(".")
    if chosen == "imagenet32":
        if os.path.isfile(to):
            raise InputError(f"--to {to} is a file: --format imagenet32 writes a folder of batch files")
        return chosen
    if chosen is not None and suffix != chosen:
        raise InputError(f"--to {to}: --format {chosen} writes a file whose name ends in .{chosen}")
    if suffix not in ("npz", "mat"):
        raise InputError(
            f"--to {to}: the file name must end in .npz (numpy) or .mat (MATLAB), or give --format imagenet32 and a folder"
        )
    return suffix


def run_to_numpy(args: argparse.Namespace) -> int:
    chosen = array_format(args.to, args.format)
    if chosen == "imagenet32" and args.kaggle:
        raise InputError("--kaggle goes with .npz or .mat output; Imagenet32 files have their own validation batch")
    if chosen == "imagenet32":
        from builder.classes import checked_ilsvrc_classes

        classes = checked_ilsvrc_classes(args.meta)  # before the build: a wrong --meta fails at once
        dataset = load_variant(args.config, args.data_dir, args.dataset, args.cache_dir, args.num_proc)
        return _write_imagenet32(dataset, args.to, classes)
    if args.meta:
        raise InputError("--meta goes with --format imagenet32 (the .npz and .mat files label classes 0..N-1)")
    dataset = load_variant(args.config, args.data_dir, args.dataset, args.cache_dir, args.num_proc)
    from builder.arrays import variant_arrays
    from publish.array_files import write_arrays, write_kaggle_competition

    arrays = variant_arrays(dataset)
    write_arrays(arrays, args.to)
    print(f"Wrote {args.to}:")
    for name, array in arrays.items():
        print(f"  {name}: {array.dtype} {array.shape}")
    if args.kaggle:
        if "y_val" not in arrays:
            raise InputError(f"{args.config} has no validation split to make a competition from")
        for path in write_kaggle_competition(arrays["y_val"], len(arrays["wnids"]), os.path.dirname(os.path.abspath(args.to))):
            print(f"Wrote {path}")
    return 0


def _write_imagenet32(dataset, folder: str, classes) -> int:
    from publish.imagenet32 import write_imagenet32

    files = write_imagenet32(dataset, folder, classes)
    print(f"Wrote {len(files)} Imagenet32 files to {folder} (labels: 1-based ILSVRC2014_IDs):")
    for written in files:
        print(f"  {written.path.name}: data uint8 {written.data_shape}")
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from imagenet_tiny import prepare_variant
    from publish.preview import builder_preview

    if not args.to.lower().endswith(".png"):
        raise InputError(f"--to {args.to}: the preview is a PNG; give a file name ending in .png")
    wnids = [w.strip() for w in args.classes.split(",") if w.strip()] if args.classes else None
    builder = prepare_variant(args.config, args.data_dir, cache_dir=args.cache_dir, num_proc=args.num_proc)
    picture = builder_preview(builder, wnids=wnids)
    os.makedirs(os.path.dirname(os.path.abspath(args.to)), exist_ok=True)
    picture.save(args.to, format="PNG")
    print(f"Wrote {args.to} ({picture.width}x{picture.height})")
    return 0
