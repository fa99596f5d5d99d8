"""Fabricated ImageNet downloads: the one writer of a download in the Kaggle or devkit layout, and of its archives.

A download is written from its images, split by split, each a :class:`SourceImage`: its id, its class and
boxes, and its content, either a picture (saved as JPEG) or a JPEG file (copied, or linked where the
download must cost no disk). The class table, the solution CSVs, the devkit's ground truth and its VOC
XML boxes are written in the formats the builder reads (:mod:`builder.ilsvrc_files` writes the CSVs).
What was written comes back as a :class:`MadeSource`, so that a caller can compute expectations on its own.
The demo, the tests and the benchmarks all make their downloads here.

The demo's download (:func:`write_synthetic_source`) is drawn: five classes under the WNIDs of the Matlab
version's five-class selection, each a shape of its own colour drawn at a random place and size on a
textured background, in images of varied size and aspect ratio.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np
from PIL import Image, ImageDraw

from builder.classes import SEED_FIVE_CLASSES, ClassTable, ilsvrc_classes, write_synset_mapping
from builder.errors import InputError
from builder.ilsvrc_files import prediction_string, validation_image_id, validation_image_number, write_kaggle_csv

Box = tuple[int, int, int, int]  # inclusive pixel positions: xmin, ymin, xmax, ymax
PathLike = Union[str, os.PathLike]

KAGGLE_IMAGES = Path("ILSVRC", "Data", "CLS-LOC")
DEVKIT_FOLDERS = {"train": "ILSVRC2012_img_train", "validation": "ILSVRC2012_img_val", "test": "ILSVRC2012_img_test"}
DEVKIT_DATA = Path("ILSVRC2014_devkit", "data")
DEVKIT_GROUND_TRUTH = "ILSVRC2014_clsloc_validation_ground_truth.txt"

# (shape, RGB colour) per class, in sorted WNID order; the colours differ in luma too (36 to 222), so
# that the gray variants keep a cue a simple baseline can learn.
SHAPES = {
    "n01622779": ("disc", (200, 30, 30)),
    "n01773157": ("square", (90, 240, 90)),
    "n01944390": ("triangle", (20, 30, 110)),
    "n02676566": ("cross", (250, 235, 80)),
    "n03452741": ("ring", (150, 60, 200)),
}
assert sorted(SHAPES) == sorted(SEED_FIVE_CLASSES)


@dataclasses.dataclass(frozen=True)
class SourceImage:
    """An image to write into a download: a drawn picture, or a JPEG file."""

    image_id: str
    wnid: Optional[str]  # None for a test image
    content: Union[Image.Image, PathLike]
    boxes: tuple[Box, ...] = ()

    @property
    def size(self) -> tuple[int, int]:
        if isinstance(self.content, Image.Image):
            return self.content.size
        with Image.open(self.content) as image:
            return image.size


@dataclasses.dataclass(frozen=True)
class MadeImage:
    """An image as written: where it is, its class, its boxes and its size in pixels."""

    image_id: str
    path: Path
    wnid: Optional[str]
    boxes: tuple[Box, ...]
    size: tuple[int, int]


@dataclasses.dataclass
class MadeSource:
    """A written download: its folder, its layout ('kaggle' or 'devkit') and its images per split."""

    root: Path
    layout: str
    train: list[MadeImage]
    validation: list[MadeImage]
    test: list[MadeImage]

    def split(self, name: str) -> list[MadeImage]:
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]


def ilsvrc_test_image_id(number: int) -> str:
    """``ILSVRC2012_test_%08d``: the name of test image ``number`` (1-based)."""
    return f"ILSVRC2012_test_{number:08d}"


# ----------------------------------------------------------------------------- the two layouts


def write_kaggle_source(
    root: PathLike,
    train: Iterable[SourceImage] = (),
    validation: Iterable[SourceImage] = (),
    test: Iterable[SourceImage] = (),
    *,
    synset_mapping: Optional[PathLike] = None,
    class_folders: Sequence[str] = (),
    link: bool = False,
) -> MadeSource:
    """A download in Kaggle's layout (imagenet-object-localization-challenge, extracted) at ``root``.

    ``synset_mapping``: a ``LOC_synset_mapping.txt`` to copy (a real one); by default the shipped class
    table is written out. ``class_folders``: classes whose training folder is made even without images
    (the full configs need every class's). ``link``: symbolic links to the JPEG files, not copies.
    """
    root = Path(root)
    images = root / KAGGLE_IMAGES
    root.mkdir(parents=True, exist_ok=True)
    _write_class_table(root / "LOC_synset_mapping.txt", synset_mapping)
    for wnid in class_folders:
        (images / "train" / wnid).mkdir(parents=True, exist_ok=True)
    made = _place_splits(root, "kaggle", (images / "train", images / "val", images / "test"), (train, validation, test), link)
    _write_solution(root / "LOC_train_solution.csv", made.train)
    _write_solution(root / "LOC_val_solution.csv", made.validation)
    return made


def write_devkit_source(
    root: PathLike,
    train: Iterable[SourceImage] = (),
    validation: Iterable[SourceImage] = (),
    test: Iterable[SourceImage] = (),
    *,
    class_table: Optional[ClassTable] = None,
    ground_truth: Optional[PathLike] = None,
    link: bool = False,
) -> MadeSource:
    """A download in the ILSVRC2012 devkit's layout (its tar files extracted) at ``root``.

    ``class_table``: the devkit table written as ``meta_clsloc.mat`` (by default the shipped one).
    ``ground_truth``: a ``ILSVRC2014_clsloc_validation_ground_truth.txt`` to copy (the real one, for
    validation images under their real ids); by default it is written from the validation images, which
    must then be numbered 1..N. ``link``: symbolic links to the JPEG files, not copies.
    """
    root = Path(root)
    table = class_table or ilsvrc_classes()
    folders = tuple(root / DEVKIT_FOLDERS[split] for split in ("train", "validation", "test"))
    made = _place_splits(root, "devkit", folders, (train, validation, test), link)
    data = root / DEVKIT_DATA
    write_meta_clsloc_mat(table, data / "meta_clsloc.mat")
    if ground_truth is not None:
        shutil.copyfile(ground_truth, data / DEVKIT_GROUND_TRUTH)
    else:
        _write_ground_truth(data / DEVKIT_GROUND_TRUTH, made.validation, table)
    for image in made.train:
        if image.boxes:  # as most of ImageNet's training images, an image without boxes has no file
            _write_voc_xml(root / "ILSVRC2012_bbox_train_v2" / str(image.wnid) / f"{image.image_id}.xml", image)
    for image in made.validation:
        _write_voc_xml(root / "ILSVRC2012_bbox_val_v3" / "val" / f"{image.image_id}.xml", image)
    return made


def write_meta_clsloc_mat(table: ClassTable, destination: PathLike) -> None:
    """The devkit's ``meta_clsloc.mat``: the struct array ``synsets``, leaf classes in ILSVRC2014_ID order."""
    import scipy.io  # only the devkit layout needs it

    if table.ilsvrc2014_ids is None:
        raise InputError(f"class table {table.source}: no ILSVRC2014_IDs to write into meta_clsloc.mat")
    fields = ("ILSVRC2014_ID", "WNID", "words", "gloss", "num_children", "children", "wordnet_height", "num_train_images")
    synsets = np.zeros(len(table), dtype=[(name, "O") for name in fields])
    rows = sorted(zip(table.ilsvrc2014_ids, table.wnids, table.words))
    for i, (number, wnid, words) in enumerate(rows):
        synsets[i] = (float(number), wnid, words, "", 0.0, np.zeros((1, 0)), 0.0, 1300.0)
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(destination, {"synsets": synsets})


def _write_class_table(destination: Path, copy_of: Optional[PathLike]) -> None:
    if copy_of is not None:
        shutil.copyfile(copy_of, destination)
    else:
        write_synset_mapping(destination, ilsvrc_classes())


def _place_splits(
    root: Path, layout: str, folders: Sequence[Path], splits: Sequence[Iterable[SourceImage]], link: bool
) -> MadeSource:
    """Each split's images in its folder (train: in a folder per class) of a download at ``root``."""
    train_folder, val_folder, test_folder = folders
    train, validation, test = splits
    return MadeSource(
        root,
        layout,
        [_place(image, train_folder / str(image.wnid), link) for image in train],
        [_place(image, val_folder, link) for image in validation],
        [_place(image, test_folder, link) for image in test],
    )


def _place(image: SourceImage, folder: Path, link: bool) -> MadeImage:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{image.image_id}.JPEG"
    if isinstance(image.content, Image.Image):
        image.content.save(path, format="JPEG", quality=90)
    elif link:
        os.symlink(os.path.abspath(image.content), path)
    else:
        shutil.copyfile(image.content, path)
    return MadeImage(image.image_id, path, image.wnid, tuple(image.boxes), image.size)


def _write_solution(path: Path, images: Sequence[MadeImage]) -> None:
    """``LOC_*_solution.csv``: a row per image with boxes (a header alone where none has)."""
    boxed = [image for image in images if image.boxes]
    write_kaggle_csv(
        path,
        [image.image_id for image in boxed],
        [prediction_string([str(image.wnid)] * len(image.boxes), image.boxes) for image in boxed],
    )


def _write_ground_truth(path: Path, validation: Sequence[MadeImage], table: ClassTable) -> None:
    """The devkit's ground truth, line n the ILSVRC2014_ID of validation image n's class."""
    numbers = sorted(validation_image_number(image.image_id) for image in validation)
    if numbers != list(range(1, len(numbers) + 1)):
        raise InputError("validation images must be numbered 1..N to write their ground truth; give ground_truth")
    ids = {validation_image_number(image.image_id): table.ilsvrc2014_ids[table.index(str(image.wnid))] for image in validation}
    path.write_text("".join(f"{ids[number]}\n" for number in numbers))


def _write_voc_xml(path: Path, image: MadeImage) -> None:
    """A PASCAL-VOC annotation, as the devkit era's box files are."""
    objects = "".join(
        f"<object><name>{image.wnid}</name><bndbox>"
        + "".join(f"<{tag}>{value}</{tag}>" for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box))
        + "</bndbox></object>"
        for box in image.boxes
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<annotation><filename>{image.image_id}</filename><size><width>{image.size[0]}</width>"
        f"<height>{image.size[1]}</height><depth>3</depth></size>{objects}</annotation>"
    )


# ----------------------------------------------------------------------------- archives


def zip_download(folder: PathLike, archive: PathLike, top: str = "", compression: int = zipfile.ZIP_STORED) -> Path:
    """``folder``'s files as a zip, under ``top/`` or at the root, as Kaggle's download is.

    Empty folders get entries of their own, so that the zip keeps them (a class folder without images).
    """
    folder, archive = Path(folder), Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", compression) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file() or (path.is_dir() and not any(path.iterdir())):
                z.write(path, os.path.join(top, str(path.relative_to(folder))))
    return archive


def tar_folder(folder: PathLike, archive: PathLike, mode: str = "w", arcname: Optional[str] = None) -> Path:
    """``folder`` as a tar (``mode`` 'w:gz' for a .tar.gz), under ``arcname`` (default: the folder's name)."""
    folder = Path(folder)
    with tarfile.open(archive, mode) as tar:
        tar.add(folder, arcname=arcname if arcname is not None else folder.name)
    return Path(archive)


def devkit_tars(extracted: PathLike, destination: PathLike) -> Path:
    """An extracted devkit download as ILSVRC2012's tar files: a train tar of per-class tars, val and test
    tars, the devkit's .tar.gz. The box folders stay extracted (as users unpack them; they are small)."""
    extracted, destination = Path(extracted), Path(destination)
    destination.mkdir()
    with tarfile.open(destination / f"{DEVKIT_FOLDERS['train']}.tar", "w") as outer:
        for class_folder in sorted((extracted / DEVKIT_FOLDERS["train"]).iterdir()):
            inner = io.BytesIO()
            with tarfile.open(fileobj=inner, mode="w") as tar:
                for image in sorted(class_folder.iterdir()):
                    tar.add(image, arcname=image.name)
            info = tarfile.TarInfo(f"{class_folder.name}.tar")
            info.size = len(inner.getvalue())
            outer.addfile(info, io.BytesIO(inner.getvalue()))
    for split in ("validation", "test"):
        with tarfile.open(destination / f"{DEVKIT_FOLDERS[split]}.tar", "w") as tar:
            for image in sorted((extracted / DEVKIT_FOLDERS[split]).iterdir()):
                tar.add(image, arcname=image.name)
    tar_folder(extracted / DEVKIT_DATA.parent, destination / f"{DEVKIT_DATA.parent}.tar.gz", "w:gz")
    for boxes in ("ILSVRC2012_bbox_train_v2", "ILSVRC2012_bbox_val_v3"):
        shutil.copytree(extracted / boxes, destination / boxes)
    return destination


# ----------------------------------------------------------------------------- the demo's drawn download


def drawn_images(per_class: Sequence[int] = (40, 10, 10), seed: int = 0) -> dict[str, list[SourceImage]]:
    """``per_class`` drawn images per class for train, validation and test; deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    splits: dict[str, list[SourceImage]] = {"train": [], "validation": [], "test": []}
    for split, count in zip(splits, per_class):
        for wnid in sorted(SHAPES):
            for i in range(count):
                picture, box = draw_example(wnid, rng)
                if split == "train":
                    splits[split].append(SourceImage(f"{wnid}_{i + 1}", wnid, picture, (box,)))
                elif split == "validation":
                    splits[split].append(SourceImage(validation_image_id(len(splits[split]) + 1), wnid, picture, (box,)))
                else:  # the test split has no labels and no boxes, as ImageNet's
                    splits[split].append(SourceImage(ilsvrc_test_image_id(len(splits[split]) + 1), None, picture))
    return splits


def write_synthetic_source(root: PathLike, per_class: Sequence[int] = (40, 10, 10), seed: int = 0) -> dict[str, int]:
    """The demo's drawn download in the Kaggle layout under ``root``: ``per_class`` images per class for
    train, validation and test. Returns the number of images written per split."""
    made = write_kaggle_source(root, **drawn_images(per_class, seed))
    return {split: len(made.split(split)) for split in ("train", "validation", "test")}


def draw_example(wnid: str, rng: np.random.Generator) -> tuple[Image.Image, Box]:
    """One image of class ``wnid`` and the inclusive pixel box of its object."""
    shape, colour = SHAPES[wnid]
    width, height = int(rng.integers(80, 200)), int(rng.integers(80, 200))
    background = np.full(3, rng.integers(110, 147))  # neutral gray: the object carries the colour
    noise = rng.normal(0, 18, size=(height, width, 1))
    pixels = np.clip(background + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    size = int(rng.integers(min(width, height) // 3, min(width, height) * 4 // 5))
    x0, y0 = int(rng.integers(0, width - size)), int(rng.integers(0, height - size))
    x1, y1 = x0 + size - 1, y0 + size - 1
    tint = tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in colour)
    draw = ImageDraw.Draw(image)
    if shape == "disc":
        draw.ellipse((x0, y0, x1, y1), fill=tint)
    elif shape == "square":
        draw.rectangle((x0, y0, x1, y1), fill=tint)
    elif shape == "triangle":
        draw.polygon([(x0, y1), (x1, y1), ((x0 + x1) // 2, y0)], fill=tint)
    elif shape == "cross":
        third = size // 3
        draw.rectangle((x0 + third, y0, x1 - third, y1), fill=tint)
        draw.rectangle((x0, y0 + third, x1, y1 - third), fill=tint)
    else:  # ring
        draw.ellipse((x0, y0, x1, y1), outline=tint, width=max(2, size // 6))
    return image, (x0, y0, x1, y1)
