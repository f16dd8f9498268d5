"""Seconds spent training, as a metric: how long a run took to reach a training error."""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class TrainingTime(L.Callback):
    """Logs ``train/time_s`` at the end of each training epoch: the seconds spent in training
    epochs so far, batches and their loading included, validation left out (it takes the same
    time whatever is being compared, and its share depends on the validation set's size).
    The total travels in checkpoints, so a resumed run keeps counting."""

    def __init__(self, name: str = "train/time_s") -> None:
        self.name = name
        self.total = 0.0
        self._epoch_start: float | None = None
        self._validation_start: float | None = None
        self._validating = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_start, self._validating = time.perf_counter(), 0.0

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._validation_start = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._validation_start is not None:
            self._validating += time.perf_counter() - self._validation_start
            self._validation_start = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._epoch_start is None:
            return
        self.total += time.perf_counter() - self._epoch_start - self._validating
        self._epoch_start = None
        pl_module.log(self.name, self.total)

    def state_dict(self) -> dict[str, Any]:
        return {"total": self.total}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.total = float(state_dict.get("total", 0.0))
