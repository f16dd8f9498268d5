"""Checkpoint writes are atomic: a process killed while saving leaves the previous file whole."""

import os
import signal
import subprocess
import sys

import torch
from hydra.utils import instantiate
from omegaconf import open_dict

from alexnet_lightning.checkpoints import AtomicCheckpointIO

from .conftest import ROOT, compose_config


def test_sigkill_during_a_save_leaves_the_previous_checkpoint_whole(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.slow_writer", str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert writer.stdout.readline().strip() == "writing"  # half of version 2 is on disk
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=60) == -signal.SIGKILL
    finally:
        writer.kill()
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["version"] == 1
    assert torch.equal(checkpoint["weights"], torch.arange(100_000.0))
    (partial,) = path.parent.glob(".last.ckpt.*.tmp")  # files.temp_path_for's name
    assert 0 < partial.stat().st_size < path.stat().st_size  # the torn write went elsewhere


def test_save_then_load_round_trips_with_weights_only(tmp_path):
    checkpoint_io = AtomicCheckpointIO()
    path = tmp_path / "a.ckpt"
    checkpoint_io.save_checkpoint({"w": torch.ones(3), "epoch": 2}, path)
    loaded = checkpoint_io.load_checkpoint(path)
    assert loaded["epoch"] == 2 and torch.equal(loaded["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["a.ckpt"]  # no temporary left behind


def test_every_trainer_config_writes_checkpoints_atomically(tmp_path):
    for name in ("default", "cpu", "ddp_cpu"):
        cfg = compose_config("train", [f"trainer={name}"], tmp_path)
        with open_dict(cfg):
            cfg.trainer.default_root_dir = str(tmp_path)
        trainer = instantiate(cfg.trainer, logger=False, enable_progress_bar=False)
        assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO), name
