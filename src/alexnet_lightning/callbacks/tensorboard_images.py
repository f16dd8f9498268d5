"""Callbacks that put pictures into TensorBoard: augmented inputs and confusion matrices."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from torchmetrics.classification import MulticlassConfusionMatrix
from torchvision.utils import make_grid


def _tensorboard(trainer: L.Trainer) -> Any | None:
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


class AugmentedImageGrid(L.Callback):
    """Logs the first training batch, as the network sees it after augmentation, once per run."""

    def __init__(self, max_images: int = 32) -> None:
        self.max_images = max_images
        self.logged = False

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        writer = _tensorboard(trainer)
        if self.logged or writer is None or not trainer.is_global_zero:
            return
        images = batch[0][: self.max_images].detach().float()
        augment = getattr(trainer.datamodule, "augment", None)
        if augment is not None:
            images = augment.denormalize(images)
        grid = make_grid(images.cpu(), nrow=8, padding=2)
        writer.add_image("train/augmented_batch", grid, global_step=trainer.global_step)
        self.logged = True


def confusion_figure(matrix: torch.Tensor, class_names: list[str] | None = None) -> Figure:
    """Row-normalised confusion matrix (true class down, predicted across) with the class names
    on the axes, drawn by torchmetrics' own plot; the cell values are written in when there
    are few enough classes to read them."""
    classes = matrix.shape[0]
    rows = matrix.float() / matrix.sum(dim=1, keepdim=True).clamp(min=1)
    # One figure size for every run's curve of images: grows with the class count, capped so a
    # 100-class matrix still fits a TensorBoard card (about 1,300 pixels at 100 dpi).
    side = min(4.0 + 0.3 * classes, 13.0)
    figure = Figure(figsize=(side, side), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    MulticlassConfusionMatrix(classes).plot(
        val=rows.cpu(),
        ax=axes,
        add_text=classes <= 20,
        labels=list(class_names) if class_names else None,
        cmap="Blues",
    )
    font = max(4, min(10, int(400 / classes)))
    axes.tick_params(labelsize=font)
    return figure


class ConfusionMatrixLogger(L.Callback):
    """Accumulates the validation and test confusion matrices (synchronised across devices).

    The validation matrix goes to TensorBoard as an image each epoch; the last matrix of each
    stage stays in ``matrices`` for eval.py's per-class accuracy.
    """

    def __init__(self) -> None:
        self.metrics: dict[str, MulticlassConfusionMatrix] = {}
        self.matrices: dict[str, torch.Tensor] = {}

    def _metric(self, stage: str, pl_module: L.LightningModule) -> MulticlassConfusionMatrix:
        if stage not in self.metrics:
            self.metrics[stage] = MulticlassConfusionMatrix(pl_module.num_classes)
        return self.metrics[stage].to(pl_module.device)

    def _update(self, stage: str, pl_module: L.LightningModule, outputs: Any) -> None:
        if isinstance(outputs, dict) and "preds" in outputs:
            self._metric(stage, pl_module).update(outputs["preds"], outputs["targets"])

    def _finish(self, stage: str, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if stage not in self.metrics:
            return
        matrix = self.metrics[stage].compute().cpu()
        self.metrics[stage].reset()
        self.matrices[stage] = matrix
        writer = _tensorboard(trainer)
        if stage == "val" and writer is not None and trainer.is_global_zero:
            names = pl_module.hparams.get("class_names")
            figure = confusion_figure(matrix, names)
            writer.add_figure("val/confusion_matrix", figure, trainer.global_step, close=True)

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        if not trainer.sanity_checking:
            self._update("val", pl_module, outputs)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._finish("val", trainer, pl_module)

    def on_test_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        self._update("test", pl_module, outputs)

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._finish("test", trainer, pl_module)
