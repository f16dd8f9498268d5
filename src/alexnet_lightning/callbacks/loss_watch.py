"""A run whose training loss goes NaN or infinite stops, naming the first bad step, and
``train/loss_step`` (one batch's loss every ``trainer.log_every_n_steps`` steps) is logged
beside the epoch mean, both without the host waiting for the device at any step: the losses
stay on the device (models/divergence.py) until a look every ``check_every_n_steps`` steps,
before every checkpoint (one written after the loss went bad is never "good") and at each
training epoch's end."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L

from alexnet_lightning.models.divergence import NonFiniteLossWatch


class LossWatch(L.Callback):
    def __init__(self, check_every_n_steps: int = 50) -> None:
        if check_every_n_steps < 1:
            raise ValueError(
                f"check_every_n_steps={check_every_n_steps!r} is invalid: it must be an "
                "integer >= 1"
            )
        self.watch = NonFiniteLossWatch(every=check_every_n_steps)
        self._loggers: list = []
        self._step = 0

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        self._step = trainer.global_step  # the step this batch's loss belongs to

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, *args: Any
    ) -> None:
        self._loggers = trainer.loggers
        # not a Mapping: every image of the batch was unreadable, no loss
        if isinstance(outputs, Mapping):
            self.watch.update(outputs["loss"], self._step)
            if trainer.global_step % trainer.log_every_n_steps == 0:
                # written at the next look, at the step number (0-based) at which Lightning
                # logs step metrics
                self.watch.keep(outputs["loss"], trainer.global_step - 1)
        if self.watch.due(trainer.global_step):
            self.watch.check(self._log_step_losses)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.watch.check(self._log_step_losses)

    def on_save_checkpoint(self, trainer: L.Trainer, *args: Any) -> None:
        self.watch.check(self._log_step_losses)

    def _log_step_losses(self, points: list[tuple[int, float]]) -> None:
        """Under DDP, rank 0's batch."""
        for logger in self._loggers:
            for step, loss in points:
                logger.log_metrics({"train/loss_step": loss}, step=step)
