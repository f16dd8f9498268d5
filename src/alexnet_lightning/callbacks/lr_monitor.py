"""The learning rate in TensorBoard under one tag, ``train/lr``, whatever the optimizer."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import LearningRateMonitor
from torch.optim import Optimizer

TAG = "train/lr"


class StableLearningRateMonitor(LearningRateMonitor):
    """Lightning's LearningRateMonitor, with ``train/lr`` (``train/lr/pg1``, ... or
    ``train/lr/<group name>`` when the optimizer has several param groups) for the tag
    Lightning names ``lr-<optimizer class>``, so that SGD and AdamW runs share one chart, and
    TensorBoard's Time Series shows it in the train group, not as a group of its own.

    A subclass because Lightning takes a name only from a scheduler's config, and runs without
    a scheduler must get the same tag. Overrides the private
    ``LearningRateMonitor._check_duplicates_and_update_name`` (see compat.py).
    """

    def _check_duplicates_and_update_name(
        self, optimizer: Optimizer, name: str, *args: Any, **kwargs: Any
    ) -> list[str]:
        if name == f"lr-{type(optimizer).__name__}":
            name = TAG
        return super()._check_duplicates_and_update_name(optimizer, name, *args, **kwargs)
