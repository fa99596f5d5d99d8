"""Every command the README shows is run by this suite, one test per command (its id is the command).

The commands of the README's ```sh blocks run here as written, as a user runs them (the console script,
in a process of its own), with its placeholder paths (``/data/imagenet`` and friends) replaced by a small
real download made from the shared ImageNet sample, in the Kaggle layout, as a zip and as ILSVRC tars,
and with ``your-user`` publishing to a local Hub server. They run in the README's order and share one
working folder and one cache, as in a user's session. The few that cannot run here as written (the
suite itself, a SLURM partition of 8-core nodes, an interactive login) are in ``RUN_ELSEWHERE``, each
with the test that runs it with the same options. The ```console blocks of the evaluation section are
run by ``test_evaluate_cli.py``, and its Python examples too.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from PIL import Image

from builder.classes import read_synset_mapping
from builder.synthetic import devkit_tars, zip_download
from tests import REPO_ROOT
from tests.fixtures.cli import CONSOLE_SCRIPT, run_console_script
from tests.fixtures.hub import WRITE, hub_client_env
from tests.fixtures.sources import make_devkit_source, make_kaggle_source
from tests.readme import readme_commands, readme_python_blocks

# Commands run by other tests, with the same options: (what starts the command, "file::test").
RUN_ELSEWHERE = (
    ("make test", "the suite itself (make test and make test-all): .ci/run runs make test-all"),
    ("make demo", "test_cli_build.py::test_make_demo_runs_the_whole_workflow"),
    ("hf auth login", "test_publish.py::test_dry_run_says_what_would_be_uploaded_and_changes_nothing"),
    ("imagenet-tiny slurm 64x64-sRGB-full --data-dir /data/imagenet --output /scratch/imagenet-tiny --num-shards 100 "
     "--partition cpu --time 2:00:00 --cpus-per-task 8 --mem 8G",
     "test_slurm.py::test_slurm_array_builds_the_single_machine_dataset_and_one_shard_resubmits_alone"),
    ("imagenet-tiny slurm 64x64-sRGB-full --data-dir /data/imagenet --output /scratch/imagenet-tiny --num-shards 100 --status",
     "test_slurm.py::test_finalize_names_the_unfinished_shards"),
    ("imagenet-tiny slurm 64x64-sRGB-full --data-dir /data/imagenet --output /scratch/imagenet-tiny --num-shards 100 --only-shards",
     "test_slurm.py::test_dry_run_prints_the_scripts"),
    (".venv/bin/python benchmarks/bench_build.py", "test_bench_build.py::test_benchmark_runs_every_section_on_a_few_images"),
    # ImageNet on the Hub is gated and far away: the local Hub serves a repo of its layout to these tests.
    ("imagenet-tiny generate 32x32-sRGB-10 --data-dir hf://datasets/ILSVRC/imagenet-1k",
     "test_hub_streaming.py::test_generate_streams_the_gated_repo_with_a_few_shards_on_disk"),
    ("imagenet-tiny generate 32x32-sRGB-10 --data-dir hf://datasets/timm/imagenet-1k-wds",
     "test_hub_streaming.py::test_a_class_subset_of_a_shuffled_webdataset_says_first_that_it_downloads_everything"),
    ("hf download ILSVRC/imagenet-1k", "test_hub_streaming.py::test_a_snapshot_from_hf_download_builds_in_place"),
    ("imagenet-tiny generate 32x32-sRGB-10 --data-dir imagenet-1k", "test_hub_streaming.py::test_a_snapshot_from_hf_download_builds_in_place"),
    (".venv/bin/python benchmarks/bench_arrays.py", "test_bench_arrays.py::test_benchmark_prints_every_ratio_on_a_few_rows"),
    (".venv/bin/python benchmarks/bench_onepass.py", "test_bench_onepass.py::test_one_pass_benchmark_runs_every_section_on_a_few_images"),
    # timm is not installed here: its readers' exact datasets calls run against an export and the local Hub.
    ("python train.py --dataset hfds/", "test_publish.py::test_the_repo_root_loads_the_default_config_and_timm_reads_it"),
    ("python validate.py --dataset hfds/", "test_publish.py::test_the_repo_root_loads_the_default_config_and_timm_reads_it"),
    ("hf download <namespace>/imagenet-tiny", "test_publish.py::test_the_repo_root_loads_the_default_config_and_timm_reads_it"),
    ("mv imagenet-tiny/", "test_publish.py::test_the_repo_root_loads_the_default_config_and_timm_reads_it"),
    (".venv/bin/python benchmarks/fidelity.py --fit-mode squash --plain-pillow",
     "test_imagenet32.py::test_the_recipe_config_stays_within_two_grey_levels_of_full_decodes"),
)


def run_elsewhere(command: str) -> str | None:
    # A --dry-run runs here even where the real submission is run elsewhere.
    return next((test for start, test in RUN_ELSEWHERE if command.startswith(start) and "--dry-run" not in command), None)


def test_every_command_elsewhere_names_a_test_that_exists():
    commands = readme_commands()
    for start, test in RUN_ELSEWHERE:
        assert any(c.startswith(start) for c in commands), f"the README no longer shows {start!r}: drop it here"
        if "::" in test:
            path, name = test.split("::")
            assert f"def {name}(" in (REPO_ROOT / "tests" / path).read_text(), test


@pytest.fixture(scope="module")
def world(tmp_path_factory, sample_dir, ilsvrc_dir) -> dict[str, str]:
    """The README's placeholders, made real: a download of all 1000 classes in each form, and scratch space."""
    root = tmp_path_factory.mktemp("readme")
    wnids = read_synset_mapping(ilsvrc_dir / "LOC_synset_mapping.txt").wnids
    seed_five = ["n01622779", "n01773157", "n01944390", "n02676566", "n03452741"]
    counts = {"train_per_class": 1, "val_per_class": 0}
    kaggle = make_kaggle_source(root / "imagenet", sample_dir, ilsvrc_dir, wnids, **counts)
    # Validation images for the classes of the README's examples (5: the seed's; 10: every 100th).
    with_val = sorted({*wnids[::100], *seed_five})
    extra = make_kaggle_source(root / "val-only", sample_dir, ilsvrc_dir, with_val, train_per_class=0, val_per_class=1)
    val_dir = kaggle.root / "ILSVRC" / "Data" / "CLS-LOC" / "val"
    val_dir.mkdir(parents=True, exist_ok=True)
    for image in extra.validation:
        os.replace(image.path, val_dir / image.path.name)
    os.replace(extra.root / "LOC_val_solution.csv", kaggle.root / "LOC_val_solution.csv")
    zipped = zip_download(kaggle.root, root / "imagenet-object-localization-challenge.zip")
    devkit = make_devkit_source(root / "devkit", sample_dir, ilsvrc_dir, seed_five, val_per_class=1, test_wnids=seed_five[:1])
    tars = devkit_tars(devkit.root, root / "ilsvrc2012-tars")
    return {
        "/data/imagenet-object-localization-challenge.zip": str(zipped),
        "/data/ilsvrc2012-tars": str(tars),
        "/data/imagenet": str(kaggle.root),
        "/scratch/imagenet-tiny": str(root / "scratch"),
        "work": str(root / "work"),
    }


def as_run_here(command: str, world: dict[str, str]) -> list[str]:
    for placeholder, path in world.items():
        command = command.replace(placeholder, path)
    argv = shlex.split(command)
    if argv[0] == "imagenet-tiny":
        argv[0] = CONSOLE_SCRIPT
    elif argv[0] == ".venv/bin/python":
        argv[0] = sys.executable
    return argv


def png(path: Path) -> bool:
    with Image.open(path) as picture:
        return picture.format == "PNG"


COMMANDS = [command for command in readme_commands() if not run_elsewhere(command)]
# What a command made or said, checked after it ran (in the working folder, on its output); each names a
# command of the README exactly.
MADE: dict[str, Callable[[Path, str], bool]] = {
    "imagenet-tiny generate 16x16-sRGB-2 --data-dir /data/imagenet --classes n01440764,n01443537":
        lambda work, out: "Built 16x16-sRGB-2: 16x16 sRGB, 2 classes" in out,
    "imagenet-tiny to-numpy 32x32-sRGB-10 --data-dir /data/imagenet --to tiny.npz": lambda work, out: (work / "tiny.npz").exists(),
    "imagenet-tiny to-numpy 32x32-sRGB-10 --data-dir /data/imagenet --to tiny.mat --kaggle":
        lambda work, out: (work / "tiny.mat").exists() and (work / "test.csv").exists(),
    "imagenet-tiny to-numpy 32x32-sRGB-full-squash --data-dir /data/imagenet --format imagenet32 --to imagenet32/":
        lambda work, out: (work / "imagenet32" / "train_data_batch_10").is_file() and (work / "imagenet32" / "val_data").is_file(),
    "imagenet-tiny preview 16x16-sRGB-10 --data-dir /data/imagenet --to preview.png --classes n01440764,n01860187":
        lambda work, out: png(work / "preview.png"),
    "imagenet-tiny export 16x16-sRGB-5 8x8-gray-5-pad --data-dir /data/imagenet --to ./imagenet-tiny-export --num-proc 8":
        lambda work, out: (work / "imagenet-tiny-export" / "8x8-gray-5-pad").is_dir(),
    "imagenet-tiny publish --repo-id your-user/imagenet-tiny 16x16-sRGB-5 8x8-gray-5 --data-dir /data/imagenet":
        lambda work, out: "Published 16x16-sRGB-5, 8x8-gray-5" in out,
    "imagenet-tiny slurm 64x64-sRGB-full --data-dir /data/imagenet --output /scratch/imagenet-tiny --num-shards 100 "
    "--partition cpu --time 2:00:00 --cpus-per-task 8 --mem 8G --dry-run":
        lambda work, out: "#SBATCH --array=0-99" in out,
}


def test_the_readme_commands_to_run_here_are_many_and_every_check_names_one():
    assert len(COMMANDS) >= 10
    assert not set(MADE) - set(COMMANDS), f"the README no longer shows {sorted(set(MADE) - set(COMMANDS))}: drop them here"


@pytest.fixture(scope="module")
def session_env(hub, tmp_path_factory) -> dict[str, str]:
    """One user's session: an environment that sees only the local Hub, with alice's token, and caches
    shared by every command, as in a terminal where the README's commands run one after the other."""
    home = tmp_path_factory.mktemp("readme-session")
    return {**hub_client_env(hub, home), "HF_TOKEN": WRITE, "PYTHONPATH": str(REPO_ROOT)}


@pytest.mark.e2e
@pytest.mark.parametrize(
    "command", [pytest.param(c, marks=pytest.mark.hub) if " publish " in f" {c} " else c for c in COMMANDS], ids=str
)
def test_readme_command_runs(command, world, session_env):
    work = Path(world["work"])
    work.mkdir(exist_ok=True)
    argv = as_run_here(command.replace("your-user/", "alice/"), world)
    cwd = REPO_ROOT if argv[0] == sys.executable else work
    result = subprocess.run(argv, cwd=cwd, env=session_env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    if command in MADE:  # what the command made is there, and is what it says
        assert MADE[command](work, result.stdout), f"{command}\n{result.stdout}"


PYTHON_BLOCKS = readme_python_blocks(before="## Evaluation")  # test_evaluate_cli runs the evaluation section's


def python_block_id(block: str) -> str:
    return next(line for line in block.splitlines() if line.strip() and not line.startswith(("import ", "from ")))


def test_the_readme_has_python_examples():
    assert len(PYTHON_BLOCKS) >= 3


@pytest.mark.e2e
@pytest.mark.parametrize(
    "block",
    [pytest.param(b, marks=pytest.mark.hub) if "<namespace>/imagenet-tiny" in b else b for b in PYTHON_BLOCKS],
    ids=python_block_id,
)
def test_readme_python_example_runs(block, world, hub_env, tmp_path, monkeypatch, run_cli):
    """A ```python block outside the evaluation section. One that loads from the Hub runs in a process of its
    own that sees only the local Hub, where the variant it names has been published first."""
    monkeypatch.chdir(tmp_path)
    code = block
    for placeholder, path in world.items():
        code = code.replace(placeholder, path)
    if "<namespace>/imagenet-tiny" in code:
        run_against_the_local_hub(code.replace("<namespace>/imagenet-tiny", "alice/readme-path"), world, hub_env)
        return
    if "./imagenet-tiny-export" in code:
        exported = run_cli("export", "16x16-sRGB-10", "--data-dir", world["/data/imagenet"],
                           "--to", tmp_path / "imagenet-tiny-export")
        assert exported.returncode == 0, exported.stderr
    namespace: dict = {}
    exec(compile(code.replace("num_proc=8", "num_proc=2"), "README.md", "exec"), namespace)
    if "x" in namespace:
        assert namespace["x"].shape[1:] == (16, 16, 3) and len(namespace["y"]) == len(namespace["x"])


def run_against_the_local_hub(code: str, world: dict[str, str], env: dict[str, str]) -> None:
    """Publish the config the code loads to the local Hub, then run the code there; it must train and score."""
    (config,) = set(re.findall(r'"alice/readme-path", "([^"]+)"', code))
    published = run_console_script("publish", "--repo-id", "alice/readme-path", config, "--data-dir", world["/data/imagenet"],
                                   "--cache-dir", Path(world["work"]) / "hub-builds", env={**env, "HF_TOKEN": WRITE})
    assert published.returncode == 0, published.stderr
    # The dataset viewer's Parquet lookup is a service this Hub does not run.
    script = "import datasets\ndatasets.config.USE_PARQUET_EXPORT = False\n" + code + (
        "\nprint('SHAPES', x_train.shape, x_val.shape, y_train.shape)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env={**env, "PYTHONPATH": str(REPO_ROOT)},
                            cwd=world["work"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    top1, top5 = map(float, result.stdout.split("SHAPES")[0].split()[-2:])
    assert 0 <= top5 <= top1 <= 1
    assert "SHAPES (10, 32, 32, 3) (10, 32, 32, 3) (10,)" in result.stdout


def test_fit_mode_picture_is_what_its_script_draws(tmp_path):
    redrawn = tmp_path / "fit-modes.png"
    subprocess.run([sys.executable, str(REPO_ROOT / "docs" / "fit_modes.py"), str(redrawn)], check=True,
                   cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True)
    with Image.open(redrawn) as a, Image.open(REPO_ROOT / "docs" / "fit-modes.png") as b:
        assert a.size == b.size and a.tobytes() == b.tobytes()
