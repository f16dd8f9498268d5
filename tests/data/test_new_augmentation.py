"""README, Extending, "a new augmentation": one module and its key, ``data.batch_augment.<name>``.
``Cutout`` below is that module: it changes the training batches on the device (not the
evaluation ones), travels in checkpoints as its config, is switched off by the
augmentation_off arm, and trains two steps through the template's loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from alexnet_lightning.checkpoints import read_checkpoint
from alexnet_lightning.data.datamodule import standalone_trainer
from alexnet_lightning.data.folder_datamodule import ImageFolderDataModule
from alexnet_lightning.entry.train import train
from alexnet_lightning.errors import ConfigError
from tests.conftest import TINY_DATA, TWO_STEPS, compose_config


class Cutout(nn.Module):
    """Zeroes one size x size square of every image (DeVries and Taylor, 2017), in place of
    the square's pixels, at a place drawn per image."""

    def __init__(self, size: int = 8) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        top = torch.randint(0, h - self.size + 1, (n,), device=x.device)
        left = torch.randint(0, w - self.size + 1, (n,), device=x.device)
        rows = torch.arange(h, device=x.device)[None, :, None]
        cols = torch.arange(w, device=x.device)[None, None, :]
        inside = (rows >= top[:, None, None]) & (rows < top[:, None, None] + self.size)
        inside = inside & (cols >= left[:, None, None]) & (cols < left[:, None, None] + self.size)
        return x.masked_fill(inside[:, None], 0.0)


CUTOUT = {"_target_": f"{__name__}.Cutout", "size": 16}


def batches(image_folder, **options) -> tuple[torch.Tensor, torch.Tensor]:
    """The first training and validation batch of the folder, as the network gets them."""
    dm = ImageFolderDataModule(
        str(image_folder), num_classes=3, batch_size=6, num_workers=0, image_size=64,
        train_crop="none", hflip=False, lighting_std=0.0, normalize=False, **options,
    )  # fmt: skip
    dm.setup("fit")
    out = []
    for training, loader in ((True, dm.train_dataloader()), (False, dm.val_dataloader())):
        dm.trainer = standalone_trainer("cpu", training=training)
        out.append(dm.on_after_batch_transfer(next(iter(loader)), 0)[0])
    return out[0], out[1]


def test_an_augmentation_changes_training_batches_only(image_folder):
    plain_train, plain_val = batches(image_folder)
    train_batch, val_batch = batches(image_folder, batch_augment={"cutout": CUTOUT})
    assert torch.equal(val_batch, plain_val)
    # one 16 x 16 square per image (a pixel that was black already stays the same)
    for changed in (train_batch != plain_train).any(dim=1):
        rows, cols = changed.nonzero(as_tuple=True)
        assert 200 < len(rows) <= 16 * 16
        assert rows.max() - rows.min() < 16 and cols.max() - cols.min() < 16


def test_a_bad_augmentation_names_its_key(image_folder):
    with pytest.raises(ConfigError, match=r"^data.batch_augment.cutout._target_='nowhere.Cut'"):
        batches(image_folder, batch_augment={"cutout": {"_target_": "nowhere.Cut"}})
    with pytest.raises(ConfigError, match=r"^data.batch_augment.cutout=8 is invalid"):
        batches(image_folder, batch_augment={"cutout": 8})


def test_the_augmentation_off_arm_switches_off_one_on_by_default(tmp_path):
    # on by default: an experiment file sets it (as conf/experiment/*.yaml set their deltas)
    experiment = tmp_path / "conf" / "experiment" / "cutout.yaml"
    experiment.parent.mkdir(parents=True)
    experiment.write_text(
        "# @package _global_\ndefaults:\n  - /experiment/ablation/augmentation\n  - _self_\n"
        f"data:\n  batch_augment:\n    cutout:\n      _target_: {CUTOUT['_target_']}\n"
    )
    search = f"hydra.searchpath=[file://{tmp_path / 'conf'}]"
    arms = {}
    for arm in ("augmentation_on", "augmentation_off"):
        cfg = compose_config("train", [search, "experiment=cutout", f"+arm={arm}"], tmp_path)
        arms[arm] = cfg.data.batch_augment
    assert arms["augmentation_on"].cutout._target_ == CUTOUT["_target_"]
    assert not arms["augmentation_off"]


def test_an_augmentation_by_its_key_alone_trains_two_steps(tmp_path):
    cfg = compose_config(
        "train",
        [
            *TINY_DATA,
            "model.net.variant=cifar",
            f"+data.batch_augment.cutout._target_={__name__}.Cutout",
            "+data.batch_augment.cutout.size=16",
            *TWO_STEPS,
        ],
        tmp_path,
    )
    metrics = train(cfg)
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))
    saved = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert saved["global_step"] == 2
    assert saved["datamodule_hyper_parameters"]["batch_augment"] == {"cutout": CUTOUT}
