"""Lightning's TensorBoardLogger, writing the epoch once per training epoch, as ``train/epoch``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning.pytorch.loggers import TensorBoardLogger as LightningTensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

# The epoch counted from 1, as the console and the pictures' titles count it; under train/ so
# TensorBoard's Time Series, which orders its groups by name, does not open on it.
EPOCH_TAG = "train/epoch"


class TensorBoardLogger(LightningTensorBoardLogger):
    """Lightning's logger connector adds ``epoch`` (0-based) to every batch of metrics it
    flushes (the training epoch's, each validation's, the test's), which drew two or more
    points per epoch. This logger writes it with the training epoch's metrics only, once for
    each epoch, as ``train/epoch`` counted from 1."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._epoch_written: Any = None

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        if "epoch" in metrics:
            epoch = metrics["epoch"]
            training = any(str(key).startswith("train/") for key in metrics)
            metrics = {key: value for key, value in metrics.items() if key != "epoch"}
            if training and epoch != self._epoch_written:
                self._epoch_written = epoch
                metrics[EPOCH_TAG] = epoch + 1
        super().log_metrics(metrics, step)
