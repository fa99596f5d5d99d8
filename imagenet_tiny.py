"""ImageNet-tiny: the ILSVRC classification images, classes and splits, downscaled to tiny sizes.

Built from the user's own ImageNet download (Kaggle or devkit layout)::

    from imagenet_tiny import ImageNetTiny
    builder = ImageNetTiny(config_name="16x16-sRGB-10", data_dir="/data/imagenet")
    builder.download_and_prepare(num_proc=8)
    ds = builder.as_dataset()   # DatasetDict: train, validation (and test for full configs)

Several variants in one pass over the download, each image read and decoded once for all of them, each
still a build of its own (``builder.onepass``)::

    from imagenet_tiny import prepare_variants
    gray8, srgb32, srgb64 = prepare_variants(["8x8-gray-full", "32x32-sRGB-full", "64x64-sRGB-100"], "/data/imagenet", num_proc=8)
    ds = srgb32.as_dataset()

Config names follow ``{W}x{H}-{gray|sRGB}-{N|full}[-{crop|pad|squash}]``; see ``builder.config``.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Optional, Sequence

import datasets

from builder import cache, onepass, report, workers
from builder.arrays import load_arrays
from builder.classes import ilsvrc_classes, select_classes
from builder.config import GRAMMAR, ConfigNameError, ImageNetTinyConfig, predefined_configs
from builder.errors import InputError
from builder.examples import Shard, examples_or_skip, shard_images, share, tiny_example, tiny_features
from builder.report import CorruptImageError
from builder.sources import no_data_dir, open_source
from builder.sources.base import SplitImages

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
    """Tiny variants of ImageNet, built from a local download given as ``data_dir``.

    A build is reused only for the same download: where it is (resolved) and what is there (a fingerprint
    of the files it reads; ``builder.cache``). ``strict=True`` makes an unreadable image fail the build, and
    a finished build that skipped one fail the run; by default unreadable images are skipped and listed
    in ``skipped_images.csv`` beside the dataset (``builder.report``).
    """

    VERSION = datasets.Version(_VERSION)
    BUILDER_CONFIG_CLASS = ImageNetTinyConfig
    BUILDER_CONFIGS = predefined_configs(_VERSION)

    def __init__(self, *args, strict: bool = False, shard: Optional[tuple[int, int]] = None, **kwargs):
        self.strict = strict
        self.shard = shard  # (index, count): build only that share of the images (builder.examples.share; publish.cluster builds shards)
        self.staged: Optional[str] = None  # a one-pass build's staging folder for this config (prepare_builders)
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
        self.source = open_source(config.data_dir)
        # Unlabelled test images cannot be filtered by class, so only the full configs have them.
        self.splits = tuple(s for s in self.source.splits if s != "test" or config.num_classes is None)
        self.origin = cache.BuildOrigin(
            os.path.realpath(self.source.data_dir),
            self.source.fingerprint(self.splits, self.classes.wnids),
            variant=plain_id,
        )
        key = {**self.origin.key(), **({"shard": "{}-of-{}".format(*self.shard)} if self.shard else {})}
        return config, config_id or config.create_config_id(config_kwargs, custom_features=custom_features, build_of=key)

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

    def _generate_examples(self, shards: Sequence[Shard] = (), staged: Sequence[str] = ()):
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

    def is_built(self) -> bool:
        """Whether a finished build of this config is in the cache (``download_and_prepare`` reuses it)."""
        return os.path.exists(os.path.join(self._output_dir, datasets.config.DATASET_INFO_FILENAME))

    def _download_and_prepare(self, dl_manager, verification_mode, **prepare_split_kwargs):
        # _output_dir is datasets' DIR.incomplete here, which a killed build may have left behind.
        build_dir = self._output_dir.removesuffix(".incomplete")
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


def unlisted_images(images: dict[str, SplitImages], strict: bool = False) -> dict[str, list[report.SkippedImage]]:
    """Per split, the files that the listing could not take as images; ``strict``: raise on the first."""
    unlisted = {
        split: [report.SkippedImage(split, f.image_id, f.path, f.reason) for f in found.skipped]
        for split, found in images.items()
    }
    every = [row for rows in unlisted.values() for row in rows]
    if every and strict:
        more = f" (and {len(every) - 1} more file(s) named as images)" if len(every) > 1 else ""
        raise CorruptImageError(f"cannot read {every[0].path}: {every[0].reason}{more}")
    return unlisted


def prepare_variant(
    config_name: str,
    data_dir: str,
    *,
    cache_dir: str | None = None,
    num_proc: int | None = None,
    strict: bool = False,
    shard: Optional[tuple[int, int]] = None,
    **config_kwargs,
) -> ImageNetTiny:
    """Build a variant (or reuse a finished build of it) and return its builder.

    ``strict=True`` fails on an unreadable image, and on a finished build that skipped one (built without
    ``strict`` earlier). ``shard=(index, count)`` builds only that share of the images (``publish.cluster``).
    A failure while writing (a strict build's unreadable image, say) is raised as its cause, which names
    the file, rather than as datasets' generic ``DatasetGenerationError``.
    """
    return prepare_variants(
        [config_name], data_dir, cache_dir=cache_dir, num_proc=num_proc, strict=strict, shard=shard, **config_kwargs
    )[0]


def prepare_variants(
    config_names: Sequence[str],
    data_dir: str,
    *,
    cache_dir: str | None = None,
    num_proc: int | None = None,
    strict: bool = False,
    shard: Optional[tuple[int, int]] = None,
    **config_kwargs,
) -> list[ImageNetTiny]:
    """Build several variants (reusing finished builds) in one pass over the download; their builders, in order.

    Each source image is read once and decoded once for all the variants that hold it (``builder.onepass``);
    each variant is still a ``datasets`` build of its own, row for row what :func:`prepare_variant` builds
    alone. The options are those of :func:`prepare_variant`, for every variant.
    """
    builders = [
        ImageNetTiny(config_name=name, data_dir=data_dir, cache_dir=cache_dir, strict=strict, shard=shard, **config_kwargs)
        for name in config_names
    ]
    prepare_builders(builders, num_proc=num_proc)
    return builders


def prepare_builders(builders: Sequence[ImageNetTiny], *, num_proc: int | None = None, staging_dir: str | None = None) -> None:
    """Build every builder whose build is not finished, in one pass over their download when there are several.

    The builders must share the download, ``strict`` and ``shard`` (each may have its own cache folder).
    The pass stages every variant's examples in a folder of ``staging_dir`` (default: the first pending
    builder's cache folder), as large as their datasets, and removes it when the builds are done.
    """
    if any(builder.source is None for builder in builders):
        raise no_data_dir()
    pending = list({builder._output_dir: builder for builder in builders if not builder.is_built()}.values())
    if len(pending) > 1:
        origins = {(builder.origin.path, builder.strict, builder.shard) for builder in pending}
        if len(origins) > 1:
            raise InputError(f"one pass builds variants of one download, strict or not, one shard: got {sorted(origins)}")
        with onepass.staging(staging_dir or pending[0]._cache_dir_root) as folder:
            _stage(pending, folder, num_proc)
            for builder in pending:
                _prepare(builder, num_proc)
    for builder in builders:  # the others: built alone, or reused (and checked, when strict)
        if len(pending) < 2 or builder not in pending:
            _prepare(builder, num_proc)


def _stage(builders: Sequence[ImageNetTiny], folder: str, num_proc: int | None) -> None:
    """The one pass: every builder's examples, staged in a folder of ``folder`` each."""
    first = builders[0]
    wnids = sorted(set().union(*(builder.classes.wnids for builder in builders)))
    splits = [split for split in first.source.splits if any(split in builder.splits for builder in builders)]
    images = {split: first.source.images(split, wnids) for split in splits}
    unlisted_images(images, first.strict)  # a strict pass fails here, before any decoding, as each build would
    targets = [
        onepass.Target(builder.config, builder.classes, builder.splits, builder.info.features, os.path.join(folder, str(i)))
        for i, builder in enumerate(builders)
    ]
    onepass.run_pass(images, targets, shard=first.shard, num_proc=num_proc, strict=first.strict)
    for builder, target in zip(builders, targets):
        builder.staged = target.folder


def _prepare(builder: ImageNetTiny, num_proc: int | None) -> None:
    """``download_and_prepare``, its failure raised as its cause; a staged builder's staging removed after."""
    try:
        builder.download_and_prepare(num_proc=num_proc)
    except datasets.exceptions.DatasetGenerationError as error:
        raise (error.__cause__ or error) from error
    finally:
        if builder.staged:
            shutil.rmtree(builder.staged, ignore_errors=True)
            builder.staged = None
