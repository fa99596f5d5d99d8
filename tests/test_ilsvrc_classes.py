"""ImageNet's class table ships with the code; a download's own table is checked against it."""

from __future__ import annotations

import pytest

import cli
from builder.classes import (
    ILSVRC_CLASSES_FILE,
    ClassTableError,
    ilsvrc_classes,
    read_meta_clsloc,
    read_synset_mapping,
)
from builder.sources import open_source
from builder.synthetic import write_meta_clsloc_mat
from imagenet_tiny import ImageNetTiny
from tests.fixtures.sources import make_devkit_source, make_kaggle_source

WNIDS = ["n01440764", "n01443537", "n02119789"]  # tench, goldfish, kit fox (ILSVRC2014_ID 1)


def test_the_shipped_table_is_the_devkits_and_kaggles(ilsvrc_dir):
    shipped = ilsvrc_classes()
    devkit = read_meta_clsloc(ilsvrc_dir / "meta_clsloc.tsv")
    assert len(shipped) == 1000
    assert (shipped.wnids, shipped.ilsvrc2014_ids, shipped.words) == (devkit.wnids, devkit.ilsvrc2014_ids, devkit.words)
    kaggle = read_synset_mapping(ilsvrc_dir / "LOC_synset_mapping.txt")
    assert (shipped.wnids, shipped.words) == (kaggle.wnids, kaggle.words)
    # The devkit's text form: its header, then the classes in ILSVRC2014_ID order.
    with open(ILSVRC_CLASSES_FILE, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert lines[0] == "ILSVRC2014_ID\tWNID\twords"
    assert [int(line.split("\t")[0]) for line in lines[1:]] == list(range(1, 1001))


@pytest.fixture
def kaggle(tmp_path, sample_dir, ilsvrc_dir):
    return make_kaggle_source(tmp_path / "kaggle", sample_dir, ilsvrc_dir, WNIDS, val_per_class=0)


def edit_lines(path, edit) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda lines: [lines[0], "n01443537 goldfish", *lines[2:]], r"n01443537 is 'goldfish', not 'goldfish, Carassius auratus'"),
        (lambda lines: lines[1:], r"it lacks n01440764 \(tench, Tinca tinca\)"),
        (lambda lines: ["n00000001 a class of another year", *lines], "n00000001 is not an ILSVRC class"),
    ],
)
def test_a_kaggle_class_table_that_is_not_imagenets_is_named(kaggle, tmp_path, edit, problem):
    mapping = kaggle.root / "LOC_synset_mapping.txt"
    edit_lines(mapping, edit)
    message = rf"{mapping} does not match ImageNet's class table: {problem}"
    with pytest.raises(ClassTableError, match=message):
        open_source(kaggle.root)
    with pytest.raises(ClassTableError, match=message):  # at once, before any work
        ImageNetTiny(config_name="8x8-gray-2", data_dir=str(kaggle.root), cache_dir=str(tmp_path), classes=WNIDS[:2])


def test_a_devkit_class_table_with_other_ids_is_named(tmp_path, sample_dir, ilsvrc_dir):
    made = make_devkit_source(tmp_path / "devkit", sample_dir, ilsvrc_dir, WNIDS, val_per_class=0)
    swapped = tmp_path / "meta_clsloc.tsv"
    swapped.write_text((ilsvrc_dir / "meta_clsloc.tsv").read_text(encoding="utf-8"), encoding="utf-8")
    # IDs 1 (n02119789, kit fox) and 2 (n02100735, English setter) swapped: the first in WNID order is named.
    edit_lines(swapped, lambda lines: [lines[0], lines[2].replace("2\t", "1\t", 1), lines[1].replace("1\t", "2\t", 1), *lines[3:]])
    meta = made.root / "ILSVRC2014_devkit" / "data" / "meta_clsloc.mat"
    write_meta_clsloc_mat(read_meta_clsloc(swapped), meta)
    with pytest.raises(ClassTableError, match=rf"{meta} does not match ImageNet's class table: n02100735 has ILSVRC2014_ID 1, not 2"):
        open_source(made.root)


def test_a_kaggle_download_has_ilsvrc2014_ids(kaggle):
    """Before the table shipped, a Kaggle download had no IDs (the devkit's meta_clsloc.mat gave them)."""
    source = open_source(kaggle.root)
    assert source.classes.wnid_of_ilsvrc2014_id(1) == "n02119789"


def test_a_meta_that_is_not_imagenets_is_refused(ilsvrc_dir, tmp_path, capsys):
    meta = tmp_path / "meta_clsloc.tsv"
    meta.write_text((ilsvrc_dir / "meta_clsloc.tsv").read_text(encoding="utf-8").replace("\tkit fox, Vulpes macrotis\n", "\tkit fox\n"))
    ground_truth = str(ilsvrc_dir / "ILSVRC2014_clsloc_validation_ground_truth.txt")
    code = cli.main(["evaluate", "--predictions", ground_truth, "--ground-truth", ground_truth, "--meta", str(meta)])
    err = capsys.readouterr().err
    assert code == 2 and f"{meta} does not match ImageNet's class table: n02119789 is 'kit fox', not 'kit fox, Vulpes macrotis'" in err


def test_a_class_table_that_is_not_utf8_is_named_with_its_line(kaggle, ilsvrc_dir, tmp_path):
    """A Latin-1 byte (an edited file saved in another encoding) names the file and line, in both table forms."""
    mapping = kaggle.root / "LOC_synset_mapping.txt"
    mapping.write_bytes(mapping.read_bytes().replace(b"goldfish", b"goldf\xe9sh"))
    with pytest.raises(ClassTableError, match=r"LOC_synset_mapping.txt, line 2: byte 16 \(0xe9\) is not UTF-8 text"):
        open_source(kaggle.root)
    tsv = tmp_path / "meta_clsloc.tsv"
    tsv.write_bytes((ilsvrc_dir / "meta_clsloc.tsv").read_bytes().replace(b"goldfish", b"goldf\xe9sh"))
    with pytest.raises(ClassTableError, match=r"meta_clsloc.tsv, line \d+: byte \d+ \(0xe9\) is not UTF-8 text"):
        read_meta_clsloc(tsv)
