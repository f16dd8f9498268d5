"""The Custom Scalars page every run writes: train and val on one chart, one card per question.

TensorBoard merges the layouts of all runs under its logdir, chart by chart, and keeps one
copy of charts that are equal, so every run writes this same layout and each chart then
shows every run (a sweep's jobs side by side). The tags are regular expressions, matched
from the start of a tag; ``$`` keeps ``train/loss`` from also matching ``train/loss_step``.
"""

from __future__ import annotations

from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

LAYOUT = {
    "Training": {
        "Loss": ["Multiline", [r"^train/loss$", r"^val/loss$"]],
        "Loss per step": ["Multiline", [r"^train/loss_step$"]],
        # train/error (1 - train/acc) shows once a run logs it
        "Accuracy": [
            "Multiline",
            [r"^train/acc$", r"^val/acc$", r"^val/acc_best$", r"^train/error$"],
        ],
        # `train/lr`, or `train/lr/<param group>` when the optimizer has several
        "Learning rate": ["Multiline", [r"^train/lr(/.+)?$"]],
        "Throughput (images/s)": ["Multiline", [r"^train/images_per_s$"]],
        # callbacks.kernels: Figure 3's colour-agnostic and colour-specific towers as numbers
        "First-layer kernels' Lab chroma": ["Multiline", [r"^kernels/colourfulness/"]],
    }
}


@rank_zero_only
def write_scalar_layout(loggers: list[Logger]) -> None:
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_custom_scalars(LAYOUT)
