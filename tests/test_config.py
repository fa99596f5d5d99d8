"""Config names, predefined configs and class selection."""

import pytest

from builder.classes import SEED_FIVE_CLASSES, ClassTableError, read_meta_clsloc, read_synset_mapping, select_classes
from builder.config import ConfigNameError, ImageNetTinyConfig, config_name, parse_config_name
from imagenet_tiny import ImageNetTiny


@pytest.mark.parametrize(
    "name, fields",
    [
        ("8x8-gray-5", (8, 8, "gray", 5, "crop")),
        ("16x16-sRGB-full", (16, 16, "sRGB", None, "crop")),
        ("32x32-sRGB-100-pad", (32, 32, "sRGB", 100, "pad")),
        ("64x48-gray-10-squash", (64, 48, "gray", 10, "squash")),
    ],
)
def test_names_parse(name, fields):
    parsed = parse_config_name(name)
    assert tuple(parsed[k] for k in ("width", "height", "color", "num_classes", "fit_mode")) == fields
    assert config_name(*fields) == name


@pytest.mark.parametrize("bad", ["", "8x8", "8x8-grey-5", "8x8-gray-0", "0x8-gray-5", "8x8-RGB-5", "8x8-gray-5-fill", "8-gray-5"])
def test_bad_names_explain_the_grammar(bad):
    with pytest.raises(ConfigNameError) as error:
        ImageNetTinyConfig.from_name(bad)
    assert "{W}x{H}-{gray|sRGB}-{N|full}" in str(error.value)
    assert "Examples: 8x8-gray-5" in str(error.value)


def test_crop_suffix_is_canonicalised():
    assert ImageNetTinyConfig.from_name("8x8-gray-5-crop").name == "8x8-gray-5"


def test_predefined_configs():
    names = set(ImageNetTiny.builder_configs)
    assert len(names) == 4 * 2 * 4
    assert {"8x8-gray-5", "16x16-sRGB-10", "32x32-gray-100", "64x64-sRGB-full"} <= names
    assert all(ImageNetTiny.builder_configs[n].fit_mode == "crop" for n in names)


def test_keywords_make_a_distinct_variant():
    config = ImageNetTinyConfig.from_name("16x16-sRGB-10", resample="lanczos")
    assert config.resample == "lanczos"
    assert config.create_config_id({"resample": "lanczos"}) != config.create_config_id({})
    with pytest.raises(ConfigNameError, match="resample"):
        ImageNetTinyConfig.from_name("16x16-sRGB-10", resample="sinc")


def test_explicit_classes_must_agree_with_the_name():
    config = ImageNetTinyConfig.from_name("8x8-gray-2", classes=["n01443537", "n01440764"])
    assert config.classes == ("n01443537", "n01440764")
    with pytest.raises(ConfigNameError, match="says 3 classes but classes lists 2"):
        ImageNetTinyConfig.from_name("8x8-gray-3", classes=["n01443537", "n01440764"])
    with pytest.raises(ConfigNameError, match="not 'full'"):
        ImageNetTinyConfig.from_name("8x8-gray-full", classes=["n01443537"])
    with pytest.raises(ConfigNameError, match="WNIDs like"):
        ImageNetTinyConfig.from_name("8x8-gray-1", classes=["tench"])
    with pytest.raises(ConfigNameError, match="contradict"):
        ImageNetTinyConfig.from_name("8x8-gray-1", width=16)


def test_class_selection():
    wnids = [f"n{i:08d}" for i in range(1000)]
    assert select_classes(wnids, None) == wnids
    assert select_classes(wnids, 5) == sorted(SEED_FIVE_CLASSES)
    assert select_classes(wnids, 10) == [wnids[i] for i in range(0, 1000, 100)]
    assert select_classes(wnids, 3) == [wnids[0], wnids[333], wnids[667]]  # 333.3 -> 333, 666.7 -> 667
    assert select_classes(wnids, 400)[1] == wnids[3]  # 2.5 rounds half up
    assert len(set(select_classes(wnids, 1000))) == 1000
    assert select_classes(wnids, 2, ["n00000007", "n00000003"]) == ["n00000003", "n00000007"]
    with pytest.raises(ClassTableError):
        select_classes(wnids, 1001)


def test_real_class_tables_agree(ilsvrc_dir, tmp_path):
    kaggle = read_synset_mapping(ilsvrc_dir / "LOC_synset_mapping.txt")
    devkit = read_meta_clsloc(ilsvrc_dir / "meta_clsloc.tsv")
    assert len(kaggle) == len(devkit) == 1000
    assert kaggle.wnids == devkit.wnids
    assert kaggle.words[0] == "tench, Tinca tinca"
    assert devkit.wnid_of_ilsvrc2014_id(1) == "n02119789"  # kit fox: devkit order is not WNID order
    assert devkit.subset(["n02119789"]).ilsvrc2014_ids == (1,)

    from builder.synthetic import write_meta_clsloc_mat

    write_meta_clsloc_mat(devkit, tmp_path / "meta_clsloc.mat")
    from_mat = read_meta_clsloc(tmp_path / "meta_clsloc.mat")
    assert from_mat == devkit.__class__(devkit.wnids, devkit.words, devkit.ilsvrc2014_ids, str(tmp_path / "meta_clsloc.mat"))
