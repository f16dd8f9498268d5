"""Shared fixtures: generated image folders and composed Hydra configs. Nothing is downloaded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from alexnet_lightning.dataset_tools.photo_like import noise_image

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

# HParams' metric columns, in the order TensorBoard shows them (metrics.METRICS' hparams)
HPARAMS_METRICS = ("val/acc_best", "val/acc", "val/loss", "train/acc", "train/loss")


def write_image_folder(
    root: Path,
    classes: list[str],
    per_split: dict[str, int],
    size: tuple[int, int] = (80, 72),
    seed: int = 0,
    suffix: str = ".jpg",
) -> Path:
    """ImageFolder tree whose classes differ by colour, so a network can learn them quickly
    (``suffix=".png"``: lossless files, whose pixels no decoder version changes)."""
    rng = np.random.default_rng(seed)
    for split, count in per_split.items():
        for index, cls in enumerate(classes):
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            base = np.array([(index * 97) % 256, (index * 53 + 80) % 256, (index * 151) % 256])
            for i in range(count):
                image = noise_image(rng, size, base=base, spread=30)
                options = {"quality": 90} if suffix == ".jpg" else {}
                image.save(folder / f"{cls}_{i:03d}{suffix}", **options)
    return root


@pytest.fixture(scope="module", autouse=True)
def _module_folders_go_when_the_module_passes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
):
    """Delete the folders a test module made under pytest's basetemp once it has passed.

    pytest's ``tmp_path_retention_policy = "failed"`` (pyproject) deletes a passing test's
    ``tmp_path`` but keeps module fixtures' ``tmp_path_factory`` folders to the end of the session;
    with AlexNet checkpoints of ~170 MB those add up to more than some CI disks hold. A module
    with a failure keeps everything, to look at.
    """
    base = tmp_path_factory.getbasetemp()
    before = set(base.iterdir())
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed == failed_before:
        for folder in set(base.iterdir()) - before:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """3 classes, 6 train and 4 val images each."""
    return write_image_folder(tmp_path / "folder", ["ant", "bee", "cat"], {"train": 6, "val": 4})


def compose_config(name: str, overrides: list[str], tmp_path: Path) -> DictConfig:
    """Compose conf/<name>.yaml as the scripts would, with every output under tmp_path."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            name,
            overrides=[
                f"paths.data_dir={tmp_path / 'data'}",
                f"paths.log_dir={tmp_path / 'logs'}",
                *overrides,
            ],
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "run")
    return cfg


# The paper's four-layer CIFAR-10 network (~80k parameters, 1 MB checkpoints against the half
# net's 175 MB), for every test where AlexNet's real widths do not matter. PyTorch's default
# init: with cuda-convnet's tiny stds the net stays at chance for the few steps a test trains.
TINY_NET = ["model.net.variant=cifar", "model.net.init_weights=false"]

# A shapes dataset small enough to build and train on in seconds (eval.py and predict.py take
# these too); TINY_SHAPES trains the tiny network on it.
TINY_DATA = [
    "data.num_classes=4",
    "data.train_per_class=12",
    "data.val_per_class=4",
    "data.source_size=72",
    "data.image_size=64",
    "data.batch_size=8",
    "data.num_workers=0",
    "data.persistent_workers=false",
]
TINY_SHAPES = [*TINY_NET, *TINY_DATA]
# two training steps, a checkpoint and nothing else: what a recipe of README's Extending trains
TWO_STEPS = [
    "trainer.max_steps=2",
    "trainer.limit_val_batches=1",
    "test=false",
    "logger=csv",
    "callbacks=[model_checkpoint]",
    "trainer.enable_progress_bar=false",
    "seed=0",
]

# A deterministic 3-epoch run for the bitwise resume tests (with 48 training images in batches
# of 8: 6 optimizer steps per epoch, 18 in all).
EXACT_RUN = [
    "seed=0",
    "trainer.deterministic=true",
    "trainer.max_epochs=3",
    "test=false",
    "callbacks.rich_progress_bar=null",
    "callbacks.rich_model_summary=null",
]
