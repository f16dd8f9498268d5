"""Training images per second in TensorBoard, for every run.

Lightning's ``ThroughputMonitor`` calls ``torch.cuda.synchronize()`` after every batch so that
its clock is exact; that stops the CPU from queueing the next step while the GPU works, the very
thing that keeps a GPU busy. This callback reads the host clock only at the edges of windows of
``every`` steps and divides by the images taken in between. The CPU can run ahead of the GPU by
a few steps at most (CUDA's launch queue is bounded, and the divergence check waits for the GPU
every 50 steps), so over a window of tens of steps the figure is the GPU's rate.
"""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class ImagesPerSecond(L.Callback):
    """Logs ``train/images_per_s`` (all ranks together) every ``every`` training steps
    (default: the trainer's ``log_every_n_steps``); windows restart each epoch, so validation
    and loader start-up are not counted."""

    def __init__(self, every: int | None = None, name: str = "train/images_per_s") -> None:
        self.every, self.name = every, name
        self._start: float | None = None
        self._images = 0
        self._steps = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = None

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._start is None:  # the first batch of a window has just arrived
            self._start, self._images, self._steps = time.perf_counter(), 0, 0

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._images += batch_images(batch)  # a shape: read on the host, no sync
        self._steps += 1
        every = self.every or trainer.log_every_n_steps
        if self._steps < every or self._start is None:
            return
        elapsed = time.perf_counter() - self._start
        rate = self._images * trainer.world_size / elapsed
        for logger in trainer.loggers:
            logger.log_metrics({self.name: rate}, step=trainer.global_step)
        # the next window starts now: the time to fetch its first batch is part of it
        self._start, self._images, self._steps = time.perf_counter(), 0, 0


def batch_images(batch: Any) -> int:
    """Images in a training batch (a shape: read on the host, no sync)."""
    images = batch[0] if isinstance(batch, list | tuple) else batch
    return int(images.shape[0])
