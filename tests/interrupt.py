"""Test helper: a callback that SIGKILLs its own process at a chosen point of training.

Loaded by the training subprocess through a config override
(``+callbacks.kill._target_=tests.interrupt.KillAt``), so the kill happens at an exact step
instead of after a racy sleep.
"""

from __future__ import annotations

import os
import signal
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
