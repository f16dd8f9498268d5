"""Checkpoint writes are atomic: a process killed while saving, or a disk that fills up, leaves the
previous file whole."""

import contextlib
import errno
import os
import resource
import signal
import subprocess
import sys

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import open_dict

from alexnet_lightning.checkpoints import AtomicCheckpointIO, _write_failure
from alexnet_lightning.errors import CheckpointError
from tests.conftest import ROOT, TINY_SHAPES, compose_config
from tests.runs import run_script


@pytest.mark.slow
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


def cap_file_size(limit: int) -> None:
    """Writes past ``limit`` bytes fail with EFBIG, as a full disk fails them with ENOSPC (both
    reach torch.save as an OSError under its RuntimeError); SIGXFSZ is ignored so the process
    gets the error instead of being killed."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


@contextlib.contextmanager
def files_capped_at(limit: int):
    """``cap_file_size`` for this process, for the ``with`` block only."""
    previous = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.getsignal(signal.SIGXFSZ)
    cap_file_size(limit)
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, previous)
        signal.signal(signal.SIGXFSZ, handler)


def test_a_failed_write_is_one_clear_message_and_keeps_the_previous_checkpoint(tmp_path):
    checkpoint_io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    checkpoint_io.save_checkpoint({"w": torch.ones(1000), "epoch": 1}, path)
    before = path.read_bytes()
    with files_capped_at(1_000_000), pytest.raises(CheckpointError) as caught:
        checkpoint_io.save_checkpoint({"w": torch.ones(2_000_000), "epoch": 2}, path)
    message = str(caught.value)
    assert f"could not write checkpoint {path} (about 8 MB): File too large" in message
    assert "the previous last.ckpt there is unchanged" in message
    assert "paths.log_dir" in message and "ckpt_path=last" in message
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # the partial temp is gone


def test_a_folder_that_cannot_be_written_gets_its_own_fix(tmp_path):
    denied = OSError(errno.EROFS, "Read-only file system")
    message = _write_failure(tmp_path / "ro" / "last.ckpt", 175_000_000, denied, False)
    assert message.startswith(
        f"could not write checkpoint {tmp_path / 'ro' / 'last.ckpt'} (about 175 MB): "
        "Read-only file system."  # no free-space figure: the folder does not exist
    )
    assert "Make that folder writable (or set paths.log_dir to one you can write)" in message
    assert "Free some space" not in message and message.endswith("then run again.")


class _Unpicklable:
    def __reduce__(self):
        raise RuntimeError("not a file-system problem")


def test_an_error_that_is_not_the_file_system_keeps_its_traceback(tmp_path):
    with pytest.raises(RuntimeError, match="not a file-system problem"):
        AtomicCheckpointIO().save_checkpoint({"x": _Unpicklable()}, tmp_path / "a.ckpt")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_training_onto_a_full_disk_stops_with_one_message(tmp_path):
    result = run_script(
        "train.py",
        *TINY_SHAPES,
        "trainer.max_epochs=1",
        "callbacks.rich_progress_bar=null",
        tmp=tmp_path,
        preexec_fn=lambda: cap_file_size(1_000_000),  # in the child only
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "could not write checkpoint" in output and "File too large" in output
    assert "no partial file was left behind" in output
    assert "Traceback" not in output
    assert not list((tmp_path / "logs").rglob("*.ckpt")) and not list(
        (tmp_path / "logs").rglob("*.tmp")
    )
