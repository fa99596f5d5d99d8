"""ImageNet-tiny: the ILSVRC classification images, classes and splits, downscaled to tiny sizes.

Built from the user's own ImageNet download (Kaggle or devkit layout, or the Hub's copies)::

    from imagenet_tiny import ImageNetTiny
    builder = ImageNetTiny(config_name="16x16-sRGB-10", data_dir="/data/imagenet")
    builder.download_and_prepare(num_proc=8)
    ds = builder.as_dataset()   # DatasetDict: train, validation (and test for full configs)

Several variants in one pass over the download, each image read and decoded once for all of them, each
still a build of its own (``builder.onepass``)::

    from imagenet_tiny import prepare_variants
    gray8, srgb32, srgb64 = prepare_variants(["8x8-gray-full", "32x32-sRGB-full", "64x64-sRGB-100"], "/data/imagenet", num_proc=8)
    ds = srgb32.as_dataset()

From the Hub, streamed (a few shards on disk at a time), with boxes from Kaggle's files::

    ImageNetTiny(config_name="16x16-sRGB-10", data_dir="hf://datasets/ILSVRC/imagenet-1k",
                 boxes=["LOC_train_solution.csv", "LOC_val_solution.csv"])

Config names follow ``{W}x{H}-{gray|sRGB}-{N|full}[-{crop|pad|squash}]``; see ``builder.config``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from typing import Optional, Sequence

import datasets

from builder import cache, onepass, report, staging, workers
from builder.arrays import load_arrays
from builder.classes import ilsvrc_classes, select_classes
from builder.config import GRAMMAR, ConfigNameError, ImageNetTinyConfig, predefined_configs
from builder.errors import InputError
from builder.examples import (
    Shard,
    adjusted_boxes,
    example_row,
    examples_or_skip,
    fit_of,
    shard_images,
    share,
    tiny_example,
    tiny_features,
)
from builder.onepass import prepare_builders, unlisted_images
from builder.report import CorruptImageError
from builder.sources import HubSource, SourceImage, no_data_dir, open_source
from builder.sources.annotations import AnnotationError, box_files_state, read_box_files

logger = logging.getLogger(__name__)

# 2.0.0: every size up to 64 is resampled from one decode that does not depend on the size (so that one
# pass serves many variants), and gray is the JPEG's own luma (builder.transform): pixels differ from
# 1.0.0's by about a grey level.
_VERSION = "2.0.0"

_DESCRIPTION = """\
ImageNet-tiny: the ILSVRC 2012 classification-localization images, classes and splits, downscaled to
tiny sizes (8x8 to 64x64 and any other), in grayscale or sRGB, with all 1000 classes or a subset, with
the ground-truth boxes mapped into tiny-image coordinates. Labels index the config's WNIDs in sorted
order, so for the full configs index i is the same class as in torchvision's ImageFolder and timm.
"""

_CITATION = """\
@article{ILSVRC15,
  author = {Olga Russakovsky and Jia Deng and Hao Su and Jonathan Krause and Sanjeev Satheesh and Sean Ma and
            Zhiheng Huang and Andrej Karpathy and Aditya Khosla and Michael Bernstein and Alexander C. Berg and Li Fei-Fei},
  title = {{ImageNet Large Scale Visual Recognition Challenge}},
  journal = {International Journal of Computer Vision (IJCV)},
  year = {2015},
  volume = {115},
  number = {3},
  pages = {211--252},
  doi = {10.1007/s11263-015-0816-y}
}
"""

_HOMEPAGE = "https://image-net.org/challenges/LSVRC/2012/"

# The ILSVRC clsloc metric's folder, installed beside this module (site-packages, or the checkout of an
# editable install): ``evaluate.load(imagenet_tiny.METRIC_PATH)`` works from any working directory.
METRIC_PATH: str = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics", "imagenet_clsloc")

_LICENSE = "ImageNet terms of access: non-commercial research and educational use only (https://image-net.org/download)."


class ImageNetTiny(datasets.GeneratorBasedBuilder):
    """Tiny variants of ImageNet, built from a download given as ``data_dir``.

    A build is reused only for the same download: where it is (resolved) and what is there (a fingerprint
    of the files it reads; ``builder.cache``). ``strict=True`` makes an unreadable image fail the build, and
    a finished build that skipped one fail the run; by default unreadable images are skipped and listed
    in ``skipped_images.csv`` beside the dataset (``builder.report``).

    ``data_dir`` may be a Hub repository, ``hf://datasets/ILSVRC/imagenet-1k`` or ``.../timm/imagenet-1k-wds``
    (at ``revision``, read with datasets' ``token`` or huggingface_hub's), or a local snapshot of one;
    these carry no boxes, which ``boxes`` (Kaggle's ``LOC_*_solution.csv``, the devkit's XML folders)
    attaches by image id. Such builds go shard by shard (``builder.staging``) and resume when run again.
    """

    VERSION = datasets.Version(_VERSION)
    BUILDER_CONFIG_CLASS = ImageNetTinyConfig
    BUILDER_CONFIGS = predefined_configs(_VERSION)

    def __init__(
        self,
        *args,
        strict: bool = False,
        shard: Optional[tuple[int, int]] = None,
        boxes: Optional[Sequence[str | os.PathLike]] = None,
        revision: Optional[str] = None,
        **kwargs,
    ):
        self.strict = strict
        self.shard = shard  # (index, count): build only that share of the images (builder.examples.share; publish.cluster builds shards)
        self.boxes = [boxes] if isinstance(boxes, (str, os.PathLike)) else list(boxes or [])
        self.revision = revision
        self.staged: Optional[str] = None  # a one-pass build's staging folder for this config (prepare_builders)
        self._staging_workers: Optional[int] = None  # a Hub source's: processes that make its shards tiny
        super().__init__(*args, **kwargs)

    def _create_builder_config(self, config_name=None, custom_features=None, config_id=None, **config_kwargs):
        # Any name that fits the grammar is a config, not only the predefined ones.
        if config_name is None:
            raise ConfigNameError(f"ImageNetTiny needs a config name.\n\n{GRAMMAR}")
        config = ImageNetTinyConfig.from_name(config_name, version=self.VERSION, **config_kwargs)
        # The classes come from the table shipped with the code, so _info needs no download.
        classes = ilsvrc_classes()
        self.classes = classes.subset(select_classes(classes.wnids, config.num_classes, config.classes))
        plain_id = config.create_config_id(config_kwargs, custom_features=custom_features)
        if config.data_dir is None:  # features only; download_and_prepare asks for the download
            self.source, self.splits, self.origin = None, (), None
            return config, config_id or plain_id
        # The download is opened here, before _info, since the build's cache id depends on it; a wrong
        # data_dir (or a class table that is not ImageNet's) fails here, before any work starts.
        self.source = open_source(config.data_dir, revision=self.revision, token=self.token if isinstance(self.token, str) else None)
        if self.boxes and not isinstance(self.source, HubSource):
            raise InputError(f"boxes= is for the Hub's copies, which have none; {self.source.data_dir} has its own")
        if self.shard is not None and isinstance(self.source, HubSource):
            raise InputError(f"{self.source.data_dir}: a Hub source is built on one machine (shard= is not available for it yet)")
        # Unlabelled test images cannot be filtered by class, so only the full configs have them.
        self.splits = tuple(s for s in self.source.splits if s != "test" or config.num_classes is None)
        self.origin = cache.BuildOrigin(
            self.source.resolved_location(),
            self._fingerprint(),
            variant=plain_id,
        )
        key = {**self.origin.key(), **({"shard": "{}-of-{}".format(*self.shard)} if self.shard else {})}
        return config, config_id or config.create_config_id(config_kwargs, custom_features=custom_features, build_of=key)

    def _fingerprint(self) -> str:
        """The source's fingerprint, and that of the box files given (which change the rows)."""
        fingerprint = self.source.fingerprint(self.splits, self.classes.wnids)
        if not self.boxes:
            return fingerprint
        states = [f"{path} {size} {mtime}" for path, size, mtime in box_files_state(self.boxes)]
        return hashlib.blake2b("\n".join([fingerprint, *states]).encode(), digest_size=16).hexdigest()

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=tiny_features(self.config, self.classes),
            homepage=_HOMEPAGE,
            citation=_CITATION,
            license=_LICENSE,
        )

    def download_and_prepare(self, *args, **kwargs) -> None:
        """Build (workers end if this process is killed) or reuse; a strict run fails on a build that skipped images."""
        if self.source is None:
            raise no_data_dir()
        with workers.exit_with_parent():
            super().download_and_prepare(*args, **kwargs)
        failure = report.strict_failure(self._output_dir) if self.strict else None
        if failure:
            raise CorruptImageError(failure)

    def _split_generators(self, dl_manager):
        if isinstance(self.source, HubSource):
            return self._hub_split_generators()
        images = {split: self.source.images(split, self.classes.wnids) for split in self.splits}
        self._report_unlisted(images)
        if self.shard is not None:  # a shard holds the splits its share reaches into
            images = {split: part for split, part in share(images, *self.shard).items() if part}
        return [
            datasets.SplitGenerator(
                name=split,
                # Staged: the examples that the one pass made (builder.onepass); else decoded here, in shards.
                gen_kwargs={"staged": onepass.staged_files(self.staged, split)} if self.staged
                else {"shards": shard_images(split, split_images)},
            )
            for split, split_images in images.items()
        ]

    def _report_unlisted(self, images: dict) -> None:
        """Report the files that the listing could not take as images (a sharded build: in its first shard)."""
        unlisted = unlisted_images(images, self.strict)
        if self.shard is None or self.shard[0] == 0:
            for split, rows in unlisted.items():
                report.write_part(self._output_dir, split, report.LISTING_PART, rows)

    def _hub_split_generators(self) -> list[datasets.SplitGenerator]:
        """Stage the shards the build reads (downloading them a few at a time, for a repository), then hand
        each split's parts to datasets as one shard, written in image-id order."""
        plan = {split: self.source.plan(split, self.classes.wnids) for split in self.splits}
        job = staging.TinyJob(self.config.size, self.config.color, self.config.fit_mode, self.config.resample)
        parts = staging.stage(self.source, plan, self.classes.wnids, job, self._staging_dir(), self._staging_workers)
        unreadable = [row for split_parts in parts.values() for part in split_parts for row in part.skipped]
        if unreadable and self.strict:
            more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
            raise CorruptImageError(f"cannot read {unreadable[0].path}: {unreadable[0].reason}{more}")
        self._attached = read_box_files(self.boxes, self.classes.wnids) if self.boxes else {}
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"parts": [split_parts]})
            for split, split_parts in parts.items()
        ]

    def _staging_dir(self) -> str:
        """Beside the build (whose id holds the source's fingerprint), so that the same build resumes there."""
        return self._output_dir.removesuffix(".incomplete") + ".staging"

    def _generate_examples(
        self,
        shards: Sequence[Shard] = (),
        staged: Sequence[str] = (),
        parts: Optional[list[list[staging.StagedPart]]] = None,
    ):
        if parts is not None:  # a Hub source's shards, made tiny by builder.staging
            yield from self._hub_examples(parts[0])
            return
        for path in staged:
            yield from onepass.staged_examples(path)
        for shard in shards:
            rows = []
            for image in shard.images:
                made, image_rows = examples_or_skip(
                    image, shard.split, lambda one: [tiny_example(one, self.config, self.classes)], self.strict
                )
                rows += image_rows
                if made:
                    yield image.image_id, made[0]
            report.write_part(self._output_dir, shard.split, shard.index, rows)

    def _hub_examples(self, parts: list[staging.StagedPart]):
        """A split's staged images in image-id order, with their labels, words and attached boxes."""
        if not parts:
            return
        split, every = parts[0].split, ilsvrc_classes()
        rows: list[report.Row] = [row for part in parts for row in part.skipped]
        for staged in staging.merged_images(parts, duplicates=rows):
            wnid = every.wnids[staged.label] if staged.label >= 0 else None
            image = SourceImage(staged.image_id, staged.where, wnid, self._boxes_of(staged.image_id, wnid))
            rows += adjusted_boxes(split, image, staged.original_size)
            yield staged.image_id, example_row(image, staged.png, staged.original_size, fit_of(staged.original_size, self.config), self.classes)
        report.write_part(self._output_dir, split, 0, rows)

    def _boxes_of(self, image_id: str, wnid: Optional[str]) -> tuple:
        """The boxes given for ``image_id`` by ``boxes=``; they must be of the image's class."""
        found = self._attached.get(image_id)
        if found is None:
            return ()
        if found.wnid != wnid:
            raise AnnotationError(f"{found.source}: boxes of class {found.wnid} for {image_id}, which is of class {wnid or 'none (test)'}")
        return found.boxes

    def is_built(self) -> bool:
        """Whether a finished build of this config is in the cache (``download_and_prepare`` reuses it)."""
        return os.path.exists(os.path.join(self._output_dir, datasets.config.DATASET_INFO_FILENAME))

    def _download_and_prepare(self, dl_manager, verification_mode, **prepare_split_kwargs):
        # _output_dir is datasets' DIR.incomplete here, which a killed build may have left behind.
        build_dir = self._output_dir.removesuffix(".incomplete")
        if isinstance(self.source, HubSource):
            # Staging makes the tiny images in worker processes; datasets then writes the one merged stream.
            self._staging_workers = prepare_split_kwargs.pop("num_proc", None)
        report.clear(self._output_dir)
        if self.staged:
            report.move_parts(self.staged, self._output_dir)
        builds_root = os.path.dirname(os.path.join(self._cache_dir_root, self._relative_data_dir(with_version=False)))
        earlier = cache.changed_since(builds_root, self.origin, build_dir)
        if earlier:
            logger.warning(cache.changed_message(self.origin, earlier, build_dir))
        super()._download_and_prepare(dl_manager, verification_mode, **prepare_split_kwargs)
        built = report.merge_parts(self._output_dir)
        if built.skipped or built.boxes:
            logger.warning(report.summary(built.skipped, build_dir, boxes=built.boxes))
        cache.write_record(self._output_dir, self.origin)
        if isinstance(self.source, HubSource):
            shutil.rmtree(self._staging_dir(), ignore_errors=True)  # written: nothing left to resume


def prepare_variant(
    config_name: str,
    data_dir: str,
    *,
    cache_dir: str | None = None,
    num_proc: int | None = None,
    strict: bool = False,
    shard: Optional[tuple[int, int]] = None,
    boxes: Optional[Sequence[str | os.PathLike]] = None,
    revision: Optional[str] = None,
    **config_kwargs,
) -> ImageNetTiny:
    """Build a variant (or reuse a finished build of it) and return its builder.

    ``strict=True`` fails on an unreadable image, and on a finished build that skipped one (built without
    ``strict`` earlier). ``shard=(index, count)`` builds only that share of the images (``publish.cluster``).
    ``boxes`` and ``revision``: for the Hub's copies (see :class:`ImageNetTiny`).
    A failure while writing (a strict build's unreadable image, say) is raised as its cause, which names
    the file, rather than as datasets' generic ``DatasetGenerationError``.
    """
    return prepare_variants(
        [config_name], data_dir, cache_dir=cache_dir, num_proc=num_proc, strict=strict, shard=shard, boxes=boxes,
        revision=revision, **config_kwargs,
    )[0]


def prepare_variants(
    config_names: Sequence[str],
    data_dir: str,
    *,
    cache_dir: str | None = None,
    num_proc: int | None = None,
    strict: bool = False,
    shard: Optional[tuple[int, int]] = None,
    boxes: Optional[Sequence[str | os.PathLike]] = None,
    revision: Optional[str] = None,
    **config_kwargs,
) -> list[ImageNetTiny]:
    """Build several variants (reusing finished builds) in one pass over the download; their builders, in order.

    Each source image is read once and decoded once for all the variants that hold it (``builder.onepass``);
    each variant is still a ``datasets`` build of its own, row for row what :func:`prepare_variant` builds
    alone. The options are those of :func:`prepare_variant`, for every variant.
    """
    builders = [
        ImageNetTiny(
            config_name=name, data_dir=data_dir, cache_dir=cache_dir, strict=strict, shard=shard, boxes=boxes,
            revision=revision, **config_kwargs,
        )
        for name in config_names
    ]
    prepare_builders(builders, num_proc=num_proc)
    return builders
