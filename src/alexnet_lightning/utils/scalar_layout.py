"""The Custom Scalars page every run writes: train and val on one chart, one card per question.

TensorBoard merges the layouts of all runs under its logdir, chart by chart, and keeps one
copy of charts that are equal, so every run writes this same layout and each chart then
shows every run (a sweep's jobs side by side). The tags are regular expressions, matched
from the start of a tag; ``$`` keeps ``train/loss`` from also matching ``train/loss_step``.
The charts and their tags are metrics.METRICS'.
"""

from __future__ import annotations

from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from alexnet_lightning.metrics import scalar_layout


@rank_zero_only
def write_scalar_layout(loggers: list[Logger]) -> None:
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_custom_scalars(scalar_layout())
