"""The network learns: it overfits a small batch, and starts at chance on the built-in data."""

import pytest
import torch

from alexnet_lightning.entry.train import train
from tests.conftest import TINY_SHAPES, compose_config


def test_overfits_a_small_batch_to_near_100_percent(tmp_path):
    cfg = compose_config(
        "train",
        [
            *TINY_SHAPES,
            "debug=overfit",
            "data.batch_size=16",
            "trainer.overfit_batches=1",
            # 100% by about epoch 15; much past that, Adam's steps on a loss of ~0 can spike
            # (seen at epoch 39 once the data order stopped drawing from the global RNG)
            "trainer.max_epochs=25",
            "model/optimizer=adamw",
            "model.optimizer.lr=0.002",
            "model.scheduler=null",
            "test=false",
            "seed=0",
        ],
        tmp_path,
    )
    metrics = train(cfg)
    assert metrics["train/acc"] >= 0.95
    assert metrics["train/loss"] < 0.3


def test_untrained_network_is_at_chance_on_the_shapes(tmp_path):
    cfg = compose_config(
        "train",
        [
            *TINY_SHAPES,
            "data.num_classes=8",
            "data.val_per_class=16",
            "train=false",
            "logger=csv",
            "seed=0",
        ],
        tmp_path,
    )
    metrics = train(cfg)  # test only, with the freshly initialised weights
    assert metrics["test/acc"] == pytest.approx(1 / 8, abs=0.08)
    assert metrics["test/loss"] == pytest.approx(torch.log(torch.tensor(8.0)).item(), abs=0.05)


def test_seed_zero_is_a_seed(tmp_path, monkeypatch):
    seeds = []
    monkeypatch.setattr("lightning.seed_everything", lambda seed, workers: seeds.append(seed))
    cfg = compose_config(
        "train",
        [*TINY_SHAPES, "seed=0", "train=false", "test=false", "logger=csv", "callbacks=none"],
        tmp_path,
    )
    train(cfg)
    assert seeds == [0]
