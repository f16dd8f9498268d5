"""One crop plan (data/crop_plan.py) for every data path: the crops each path cuts for fixed
seeds, pinned bitwise to what they were before the plan existed, and the plan's own draws."""

from __future__ import annotations

import hashlib

import pytest
import torch

from alexnet_lightning.data.crop_plan import CropPlan
from alexnet_lightning.data.datamodule import standalone_trainer
from alexnet_lightning.data.folder_datamodule import ImageFolderDataModule
from alexnet_lightning.data.packed.datamodule import PackedDataModule
from alexnet_lightning.dataset_tools.pack import pack_dataset
from tests.conftest import write_image_folder

PATHS = {
    "folder": (ImageFolderDataModule, {}),  # loader workers crop each decoded file
    "device_decode": (ImageFolderDataModule, {"decode_on_device": True}),
    "packed": (PackedDataModule, {"crop_in_loader": False}),  # as on an accelerator
    "packed_loader": (PackedDataModule, {"crop_in_loader": True}),  # as on the CPU
    "packed_on_device": (PackedDataModule, {"packed_on_device": True}),  # as cifar10
}
# sha256 (first 16 hex digits) of the first train and val batch of each path, seed 0: the
# crops of main before the plan (957a35c), on PNG files (lossless: no decoder changes them).
# device_decode's: after the plan, equal to 957a35c's on JPEG files (957a35c failed on a batch
# without a JPEG).
PINNED = {
    ("random_resized", "folder"): ("aae0746c68404ed2", "6e273245b55da119"),
    ("random_resized", "device_decode"): ("f2fae1c9844ef0ba", "1b0445b987063408"),
    ("random_resized", "packed"): ("96c71bf4756039de", "6e273245b55da119"),
    ("random_resized", "packed_loader"): ("96c71bf4756039de", "6e273245b55da119"),
    ("random_resized", "packed_on_device"): ("96c71bf4756039de", "6e273245b55da119"),
    ("paper", "folder"): ("97df5c85f244f91d", "6e273245b55da119"),
    ("paper", "device_decode"): ("55aaf11251339a70", "1b0445b987063408"),
    ("paper", "packed"): ("97df5c85f244f91d", "6e273245b55da119"),
    ("paper", "packed_loader"): ("97df5c85f244f91d", "6e273245b55da119"),
    ("paper", "packed_on_device"): ("97df5c85f244f91d", "6e273245b55da119"),
    ("none", "folder"): ("27c03c2c7e583bef", "6e273245b55da119"),
    ("none", "device_decode"): ("44c1e8c200396797", "1b0445b987063408"),
    ("none", "packed"): ("27c03c2c7e583bef", "6e273245b55da119"),
    ("none", "packed_loader"): ("27c03c2c7e583bef", "6e273245b55da119"),
    ("none", "packed_on_device"): ("27c03c2c7e583bef", "6e273245b55da119"),
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crops")
    tree = write_image_folder(
        tmp / "tree", ["a", "b"], {"train": 8, "val": 4}, size=(56, 48), suffix=".png"
    )
    return {
        "tree": tree,
        "packed": pack_dataset(tree, tmp / "p", side=40, workers=1, progress=False),
    }


def fingerprint(images: torch.Tensor) -> str:
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()[:16]


def first_batches(sources, crop: str, path: str) -> tuple[str, str]:
    kind, extra = PATHS[path]
    root = sources["tree" if kind is ImageFolderDataModule else "packed"]
    dm = kind(
        root=str(root), num_classes=2, batch_size=8, num_workers=0, image_size=32,
        train_crop=crop, eval_resize_ratio=40 / 32, hflip=False, normalize=False,
        lighting_std=0.0, persistent_workers=False, **extra,
    )  # fmt: skip
    dm.trainer = standalone_trainer("cpu", training=True)
    dm.setup("fit")
    prints = []
    for split, loader in (("train", dm.train_dataloader()), ("val", dm.val_dataloader())):
        dm.trainer = standalone_trainer("cpu", training=split == "train")
        batch = dm.on_before_batch_transfer(next(iter(loader)), 0)
        images, _ = dm.on_after_batch_transfer(batch, 0)
        assert images.shape == (8, 3, 32, 32)
        prints.append(fingerprint(images))
    return prints[0], prints[1]


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("crop", ["random_resized", "paper", "none"])
def test_each_path_cuts_the_crops_it_cut_before_the_plan(sources, crop, path):
    assert first_batches(sources, crop, path) == PINNED[crop, path]


def test_the_plan_names_each_splits_crop_and_its_side():
    plan = CropPlan("paper", 224, 256 / 224)
    assert (plan.side, plan.crop("train"), plan.crop("val"), plan.crop("test")) == (
        256,
        "paper",
        "center",
        "center",
    )
    assert CropPlan("none", 24, 32 / 24).crop("train") == "center"
    seeds = [3, 1, 4]
    offsets = plan.draws(seeds, 300, 400)
    assert offsets.shape == (3, 2) and torch.equal(offsets, plan.draws(seeds, 10, 10))
    assert (offsets >= 0).all() and (offsets <= 256 - 224).all()
    boxes = CropPlan("random_resized", 224, 256 / 224).draws(seeds, 300, 400)
    assert boxes.shape == (3, 4) and (boxes[:, 2] <= 400).all() and (boxes[:, 3] <= 300).all()
    assert CropPlan("none", 24, 32 / 24).draws(seeds, 32, 32).numel() == 0
