"""ImageNet-tiny: the ILSVRC classification images, classes and splits, downscaled to tiny sizes.

Built from the user's own ImageNet download (Kaggle or devkit layout)::

    from imagenet_tiny import ImageNetTiny
    builder = ImageNetTiny(config_name="16x16-sRGB-10", data_dir="/data/imagenet")
    builder.download_and_prepare(num_proc=8)
    ds = builder.as_dataset()   # DatasetDict: train, validation (and test for full configs)

Config names follow ``{W}x{H}-{gray|sRGB}-{N|full}[-{crop|pad|squash}]``; see ``builder.config``.
"""

from __future__ import annotations

import os
from typing import Optional

import datasets

import metrics.imagenet_clsloc
from builder import report
from builder.arrays import load_arrays
from builder.classes import select_classes
from builder.config import GRAMMAR, ConfigNameError, ImageNetTinyConfig, predefined_configs
from builder.examples import Shard, shard_images, tiny_example, tiny_features
from builder.shards import share
from builder.sources import open_source
from builder.transform import DECODE_ERRORS

_VERSION = "1.0.0"

# The ILSVRC clsloc metric's folder, installed with the package: ``evaluate.load(imagenet_tiny.METRIC_PATH)``
# works from any working directory, where the relative "metrics/imagenet_clsloc" works only in a checkout's root.
METRIC_PATH: str = os.path.dirname(os.path.abspath(metrics.imagenet_clsloc.__file__))

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

_LICENSE = "ImageNet terms of access: non-commercial research and educational use only (https://image-net.org/download)."


class CorruptImageError(ValueError):
    """An unreadable source image in a ``strict`` build."""


class ImageNetTiny(datasets.GeneratorBasedBuilder):
    """Tiny variants of ImageNet, built from a local download given as ``data_dir``.

    ``strict=True`` makes an unreadable image fail the build; by default it is skipped and listed in
    ``skipped_images.csv`` beside the dataset.
    """

    VERSION = datasets.Version(_VERSION)
    BUILDER_CONFIG_CLASS = ImageNetTinyConfig
    BUILDER_CONFIGS = predefined_configs(_VERSION)

    def __init__(self, *args, strict: bool = False, shard: Optional[tuple[int, int]] = None, **kwargs):
        self.strict = strict
        self.shard = shard  # (index, count): build only that share of the images (builder.shards)
        super().__init__(*args, **kwargs)

    def _create_builder_config(self, config_name=None, custom_features=None, config_id=None, **config_kwargs):
        # Any name that fits the grammar is a config, not only the predefined ones.
        if config_name is None:
            raise ConfigNameError(f"ImageNetTiny needs a config name.\n\n{GRAMMAR}")
        config = ImageNetTinyConfig.from_name(config_name, version=self.VERSION, **config_kwargs)
        return config, config_id or config.create_config_id(config_kwargs, custom_features=custom_features)

    def _info(self) -> datasets.DatasetInfo:
        # datasets calls this once, while constructing the builder: the class names (the ClassLabel) come
        # from the user's download, and a wrong data_dir fails here, before any work starts.
        self.source = open_source(self.config.data_dir)
        wnids = select_classes(self.source.classes.wnids, self.config.num_classes, self.config.classes)
        self.classes = self.source.classes.subset(wnids)
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=tiny_features(self.config, self.classes),
            homepage=_HOMEPAGE,
            citation=_CITATION,
            license=_LICENSE,
        )

    def _split_generators(self, dl_manager):
        # Unlabelled test images cannot be filtered by class, so only the full configs have them.
        splits = [s for s in self.source.splits if s != "test" or self.config.num_classes is None]
        images = {split: self.source.images(split, self.classes.wnids) for split in splits}
        if self.shard is not None:  # a shard holds the splits its share reaches into
            images = {split: part for split, part in share(images, *self.shard).items() if part}
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"shards": shard_images(split, split_images)})
            for split, split_images in images.items()
        ]

    def _generate_examples(self, shards: list[Shard]):
        for shard in shards:
            skipped = []
            for image in shard.images:
                try:
                    example = tiny_example(image, self.config, self.classes)
                except DECODE_ERRORS as error:
                    if self.strict:
                        raise CorruptImageError(f"cannot read {image.path}: {report.describe(error)}") from error
                    skipped.append(report.SkippedImage(shard.split, image.image_id, image.path, report.describe(error)))
                    continue
                yield image.image_id, example
            report.write_part(self._output_dir, shard.split, shard.index, skipped)

    def _download_and_prepare(self, dl_manager, verification_mode, **prepare_split_kwargs):
        super()._download_and_prepare(dl_manager, verification_mode, **prepare_split_kwargs)
        skipped = report.merge_parts(self._output_dir)
        if skipped:
            print(report.summary(skipped, self._output_dir.removesuffix(".incomplete")))


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

    ``shard=(index, count)`` builds only that share of the images (``builder.shards``). A failure while
    writing (a strict build's unreadable image, say) is raised as its cause, which names the file,
    rather than as datasets' generic ``DatasetGenerationError``.
    """
    builder = ImageNetTiny(
        config_name=config_name, data_dir=data_dir, cache_dir=cache_dir, strict=strict, shard=shard, **config_kwargs
    )
    try:
        builder.download_and_prepare(num_proc=num_proc)
    except datasets.exceptions.DatasetGenerationError as error:
        raise (error.__cause__ or error) from error
    return builder
