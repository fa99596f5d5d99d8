"""``imagenet-tiny evaluate`` and ``imagenet-tiny subset``: the devkit evaluation workflow.

``evaluate`` is the devkit's demo_eval_clsloc.m (or demo_eval_cls.m without boxes) on files;
``subset`` is the Matlab ``make_tiny_eval_clsloc``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from builder.errors import InputError

DEVKIT_GROUND_TRUTH = "data/ILSVRC2014_clsloc_validation_ground_truth.txt"
META_HELP = (
    "a class table to check against ImageNet's, which ships with ImageNet-tiny and maps WNIDs and "
    "ILSVRC2014_IDs: meta_clsloc.mat (or .tsv) or LOC_synset_mapping.txt (optional)"
)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a prediction file as the ILSVRC devkit does (classification, with localization)",
        description=(
            "Print the devkit's table '# guesses vs clsloc error vs cls-only error' for a prediction file. "
            "Devkit files: predictions one line per validation image, 'label xmin ymin xmax ymax' per guess "
            "(or labels alone), labels ILSVRC2014_IDs; ground truth one ILSVRC2014_ID per line; blacklist "
            "1-based image numbers. Kaggle files: 'ImageId,PredictionString' CSVs with WNIDs."
        ),
    )
    parser.add_argument("--predictions", required=True, help="devkit prediction file or Kaggle submission CSV")
    parser.add_argument(
        "--ground-truth",
        required=True,
        help="devkit ILSVRC2014_clsloc_validation_ground_truth.txt or Kaggle LOC_val_solution.csv",
    )
    parser.add_argument(
        "--boxes",
        help="ground-truth boxes: a folder of devkit XML files (ILSVRC2012_bbox_val_v3/val) or LOC_val_solution.csv",
    )
    parser.add_argument("--blacklist", help="images left out of the localization error (1-based numbers, one per line)")
    parser.add_argument("--meta", help=META_HELP)
    parser.add_argument("--filelist", help="original image number of each line, for a subset (imagenet-tiny subset)")
    parser.add_argument(
        "--max-guesses", type=_positive_int, default=5, help="guesses scored per image (default 5, at most 1000)"
    )
    parser.add_argument(
        "--guesses",
        choices=("labels", "boxes"),
        help="layout of a devkit prediction file: labels alone, or 'label xmin ymin xmax ymax' per guess "
        "(default: the one layout the file reads in; an error asks for this option when it reads in both)",
    )
    parser.add_argument("--json", action="store_true", help="print the metric's results as JSON, at full precision")
    parser.set_defaults(run=run_evaluate)

    parser = commands.add_parser(
        "subset",
        help="restrict the devkit ground truth and blacklist to a class subset (make_tiny_eval_clsloc)",
        description=(
            "Write ILSVRC2014_clsloc_validation_ground_truth-NAME.txt, ILSVRC2014_clsloc_validation_blacklist-NAME.txt "
            "(renumbered to positions in the subset) and ILSVRC2014_filelist-NAME.txt (original 1-based image numbers)."
        ),
    )
    classes = parser.add_mutually_exclusive_group(required=True)
    classes.add_argument("--classes", help="comma-separated WNIDs, e.g. n01440764,n01443537")
    classes.add_argument("--classes-file", help="file with one WNID per line (first word of each line)")
    parser.add_argument("--name", required=True, help="subset name, part of the output file names")
    parser.add_argument(
        "--ground-truth", default=DEVKIT_GROUND_TRUTH, help=f"devkit ground truth (default {DEVKIT_GROUND_TRUTH})"
    )
    parser.add_argument("--blacklist", help="devkit blacklist (default: none, and the subset's blacklist is empty)")
    parser.add_argument("--meta", help=META_HELP)
    parser.add_argument("--output-dir", default=".", help="where to write the three files (default: current folder)")
    parser.set_defaults(run=run_subset)


def run_evaluate(args: argparse.Namespace) -> int:
    from metrics.scoring import score_files

    score = score_files(
        args.predictions,
        args.ground_truth,
        boxes=args.boxes,
        blacklist=args.blacklist,
        meta=args.meta,
        filelist=args.filelist,
        max_guesses=args.max_guesses,
        guesses=args.guesses,
    )
    for note in score.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(score.results, indent=2))
        return 0
    localized = "clsloc_error" in score.results
    print("CLASSIFICATION WITH LOCALIZATION TASK" if localized else "CLASSIFICATION TASK")
    print(f"pred_file: {args.predictions}")
    print(f"ground_truth_file: {args.ground_truth}")
    if localized:
        print(f"blacklist_file: {args.blacklist or '(none)'}")
        print(
            f"eval_clsloc :: blacklisted {score.num_blacklisted} images"
            if args.blacklist
            else "eval_clsloc :: no blacklist"
        )
    print("\n".join(format_table(score.results)))
    return 0


def format_table(results: dict[str, Any]) -> list[str]:
    """The devkit demo's table: ``# guesses vs clsloc error vs cls-only error``, one row per k.

    Columns are Matlab's ``disp`` of the matrix: 10 characters, 4 decimals. Without localization it is
    demo_eval_cls.m's ``# guesses vs cls error``.
    """
    cls_error = results["cls_error"]
    if "clsloc_error" in results:
        rows = zip(range(1, len(cls_error) + 1), results["clsloc_error"], cls_error)
        header = "# guesses vs clsloc error vs cls-only error"
    else:
        rows = zip(range(1, len(cls_error) + 1), cls_error)
        header = "# guesses vs cls error"
    return [header] + ["".join(f"{value:10.4f}" for value in row) for row in rows]


def run_subset(args: argparse.Namespace) -> int:
    from builder.classes import checked_ilsvrc_classes
    from metrics.devkit_files import read_class_list
    from metrics.subset import make_tiny_eval_clsloc

    if args.classes is not None:
        wnids = [w.strip() for w in args.classes.split(",") if w.strip()]
        if not wnids:
            raise InputError("--classes is empty: give comma-separated WNIDs such as n01440764,n01443537")
    else:
        wnids = read_class_list(args.classes_file)
    written = make_tiny_eval_clsloc(
        wnids, args.name, args.ground_truth, checked_ilsvrc_classes(args.meta), args.blacklist, args.output_dir
    )
    print(f"{len(set(wnids))} classes, {written.num_images} validation images")
    print(f"wrote {written.ground_truth}")
    given = "" if args.blacklist else "; no blacklist given"
    print(f"wrote {written.blacklist} ({written.num_blacklisted} blacklisted images{given})")
    print(f"wrote {written.filelist}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value
