"""Progress for a terminal and for a batch job: the rich bar on a terminal, one line per epoch
without one.

A SLURM job, ``nohup`` or a pipe has no terminal: the rich bar then draws nothing useful and
train.log holds no progress at all. ``EpochLog`` logs one line per epoch through the
``logging`` module instead, which Hydra sends to train.log and stdout:

    epoch 3/15  step 540  train/loss 0.8123  val/loss 0.7012  val/acc 0.7750  images/s 412
    elapsed 3m01s  ETA 12m04s

It is a Lightning ``ProgressBar``, so Lightning adds no bar of its own beside it.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar

from alexnet_lightning.callbacks.throughput import batch_images
from alexnet_lightning.metrics import ranked

log = logging.getLogger(__name__)


def has_terminal() -> bool:
    """Whether progress is read on a terminal (stdout is a TTY): the one place this is decided."""
    return sys.stdout.isatty()


def progress_display(refresh_rate: int = 5) -> ProgressBar:
    """The rich progress bar on a terminal, ``EpochLog`` without one."""
    return RichProgressBar(refresh_rate=refresh_rate) if has_terminal() else EpochLog()


def duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``2h07m``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class EpochLog(ProgressBar):
    """One log line per training epoch: epoch, step, train/loss, val/loss, val/acc, training
    images/s (all ranks), elapsed time and the estimated time left. Rank 0 only."""

    def __init__(self) -> None:
        super().__init__()
        self._enabled = True
        self._fit_start = 0.0
        self._epochs_timed = 0
        self._train_seconds = 0.0
        self._images = 0
        self._first_batch: float | None = None

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._fit_start = time.perf_counter()
        self._epochs_timed = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_start = time.perf_counter()
        self._images, self._first_batch, self._train_seconds = 0, None, 0.0

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._first_batch is None:
            self._first_batch = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        self._images += batch_images(batch)
        if self._first_batch is not None:
            self._train_seconds = time.perf_counter() - self._first_batch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epochs_timed += 1
        # on every rank, enabled or not: reading the epoch's metrics computes them, which
        # synchronises the ranks, and a read on rank 0 alone would meet another collective
        line = self.line(trainer)
        if self._enabled and trainer.is_global_zero:
            log.info("%s", line)

    def line(self, trainer: L.Trainer) -> str:
        now = time.perf_counter()
        elapsed = now - self._fit_start
        parts = [f"epoch {trainer.current_epoch + 1}/{_total(trainer.max_epochs)}"]
        parts.append(f"step {trainer.global_step}")
        metrics = trainer.callback_metrics
        parts += [
            f"{name} {float(metrics[name]):.4f}" for name in ranked("epoch_line") if name in metrics
        ]
        if self._train_seconds > 0:
            rate = self._images * trainer.world_size / self._train_seconds
            parts.append(f"images/s {rate:.0f}")
        parts.append(f"elapsed {duration(elapsed)}")
        left = self._seconds_left(trainer, elapsed)
        if left is not None:
            parts.append(f"ETA {duration(left)}")
        return "  ".join(parts)

    def _seconds_left(self, trainer: L.Trainer, elapsed: float) -> float | None:
        """From this process's pace so far: by steps when max_steps is the nearer limit,
        else by epochs; None without a limit."""
        per_epoch = elapsed / self._epochs_timed
        epochs_left = None
        if trainer.max_epochs is not None and trainer.max_epochs >= 0:
            epochs_left = max(trainer.max_epochs - trainer.current_epoch - 1, 0) * per_epoch
        steps_left = None
        if trainer.max_steps > 0 and trainer.num_training_batches not in (0, float("inf")):
            steps_per_epoch = trainer.num_training_batches / trainer.accumulate_grad_batches
            remaining = max(trainer.max_steps - trainer.global_step, 0)
            steps_left = remaining / steps_per_epoch * per_epoch
        known = [left for left in (epochs_left, steps_left) if left is not None]
        return min(known) if known else None


def _total(max_epochs: int | None) -> str:
    return str(max_epochs) if max_epochs is not None and max_epochs >= 0 else "?"
