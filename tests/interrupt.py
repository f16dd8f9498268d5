"""Test helpers for stopped and resumed runs.

``KillAt`` is loaded by the training subprocess through a config override
(``+callbacks.kill._target_=tests.interrupt.KillAt``), so the kill happens at an exact step
instead of after a racy sleep. ``assert_killed_run_resumes_bitwise`` is the kill-and-resume
check every data path runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch

KILL = "+callbacks.kill._target_=tests.interrupt.KillAt"


class KillAt(L.Callback):
    """SIGKILL (or another signal) when the next batch starts at ``step`` optimizer steps,
    or when epoch ``epoch`` starts. The checkpoints of the earlier steps are already written."""

    def __init__(self, step: int | None = None, epoch: int | None = None, sig: str = "SIGKILL"):
        self.step, self.epoch, self.sig = step, epoch, getattr(signal, sig)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.epoch is not None and trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), self.sig)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.step is not None and trainer.global_step == self.step:
            os.kill(os.getpid(), self.sig)


class Interrupted(Exception):
    """Raised by ``RaiseAt``: the in-process stand-in for a killed job."""


class RaiseAt(L.Callback):
    """Raise ``Interrupted`` when the next batch starts at ``step`` optimizer steps.

    For in-process tests, where a SIGKILL would end pytest: the run stops at the same point as
    with ``KillAt``, its loader workers are shut down and no further checkpoint is written.
    """

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step == self.step:
            raise Interrupted(f"interrupted at step {self.step}")


class WaitForStopAt(L.Callback):
    """On a job's first attempt, hold training at ``step`` until the job is told to stop
    (SIGTERM, or a signal PreemptionCheckpoint listens to), for at most ``timeout`` seconds;
    ``marker`` is written when the hold starts, so a test knows when to send the signal, and
    ``<marker>.started`` when training starts (the time from submission to the first step).

    SLURM's time-limit warning comes at its own pace (it checks every 30 s): the hold makes
    the signal land inside training, whenever it comes. A requeued attempt does not hold."""

    def __init__(self, step: int, marker: str, timeout: float = 120.0):
        self.step, self.marker, self.timeout = step, marker, timeout

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if os.environ.get("SLURM_RESTART_COUNT", "0") == "0":
            with open(f"{self.marker}.started", "w") as file:
                file.write(f"{time.time()}")

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step != self.step or os.environ.get("SLURM_RESTART_COUNT", "0") != "0":
            return
        with open(self.marker, "w") as file:
            file.write(os.environ.get("SLURM_JOB_ID", ""))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and not _told_to_stop(trainer):
            time.sleep(0.1)


def _told_to_stop(trainer: L.Trainer) -> bool:
    return trainer.received_sigterm or any(
        getattr(callback, "requested", None) for callback in trainer.callbacks
    )


def runs(tmp: Path) -> list[Path]:
    return sorted((tmp / "logs" / "train" / "runs").iterdir())


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_bitwise_equal(a: dict, b: dict) -> None:
    assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"])
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    states_a, states_b = a["optimizer_states"][0]["state"], b["optimizer_states"][0]["state"]
    for param, state in states_a.items():
        for name, value in state.items():
            assert torch.equal(value, states_b[param][name]), (param, name)
    assert a["lr_schedulers"] == b["lr_schedulers"]


def assert_killed_run_resumes_bitwise(
    train: Callable[..., subprocess.CompletedProcess],
    tmp: Path,
    datamodule: str,
    *overrides: str,
    uninterrupted: dict | None = None,
) -> None:
    """A run of 3 epochs of 6 steps SIGKILLed at step 10, resumed from its step-8 checkpoint
    (mid-epoch 1), ends with the uninterrupted run's last.ckpt bit for bit.

    ``train(*overrides, tmp=folder)`` runs scripts/train.py with its logs under ``folder``;
    ``datamodule`` is the DataModule's class name, its key in the checkpoint; the
    uninterrupted run is made here unless given.
    """
    if uninterrupted is None:
        (tmp / "clean").mkdir()
        clean = train(tmp=tmp / "clean")
        assert clean.returncode == 0, clean.stderr[-3000:]
        uninterrupted = load(runs(tmp / "clean")[0] / "checkpoints" / "last.ckpt")
    killed_tmp = tmp / "killed"
    killed_tmp.mkdir()
    every_4 = "callbacks.step_checkpoint.every_n_train_steps=4"
    killed = train(every_4, *overrides, KILL, "+callbacks.kill.step=10", tmp=killed_tmp)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    last = runs(killed_tmp)[0] / "checkpoints" / "last.ckpt"
    state = load(last)
    # step 8 is the 2nd of epoch 1's 6 batches: a mid-epoch checkpoint
    assert (state["global_step"], state["epoch"]) == (8, 1)
    assert state[datamodule] == {"epoch": 1, "batches_done": 2, "epoch_batches": 6}
    resumed = train(every_4, *overrides, f"ckpt_path={last}", tmp=killed_tmp)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_bitwise_equal(load(runs(killed_tmp)[1] / "checkpoints" / "last.ckpt"), uninterrupted)
