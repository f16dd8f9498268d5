"""Test helper: a callback that SIGKILLs its own process at a chosen point of training.

Loaded by the training subprocess through a config override
(``+callbacks.kill._target_=tests.interrupt.KillAt``), so the kill happens at an exact step
instead of after a racy sleep.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import lightning as L


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
