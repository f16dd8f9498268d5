"""Callbacks that put pictures into TensorBoard: augmented inputs and confusion matrices."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from torchmetrics.classification import MulticlassConfusionMatrix
from torchvision.utils import make_grid


def tensorboard_writer(trainer: L.Trainer) -> Any | None:
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


def epoch_step(trainer: L.Trainer) -> int:
    """The step of the epoch that is ending: where Lightning logs its epoch-level scalars (its
    last optimizer step, numbered from 0), so the epoch's pictures sit at their step."""
    return max(trainer.global_step - 1, 0)


class AugmentedImageGrid(L.Callback):
    """Logs the first training batch of the run's first epoch and of every ``every_n_epochs``-th
    epoch, as the network sees it after augmentation, each tile titled with its class. Kept
    from the epoch's first batch, drawn at its end: at the step of the epoch's scalars."""

    def __init__(self, max_images: int = 32, every_n_epochs: int = 5) -> None:
        self.max_images, self.every_n_epochs = max_images, every_n_epochs
        self._first_epoch: int | None = None
        self._logged_epochs: set[int] = set()
        self._kept: tuple[torch.Tensor, list[str]] | None = None

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        epoch = trainer.current_epoch
        if self._first_epoch is None:
            self._first_epoch = epoch
        due = epoch == self._first_epoch or epoch % self.every_n_epochs == 0
        writer = tensorboard_writer(trainer)
        if not due or epoch in self._logged_epochs or writer is None or not trainer.is_global_zero:
            return
        self._logged_epochs.add(epoch)
        images = batch[0][: self.max_images].detach().float()
        augment = getattr(trainer.datamodule, "augment", None)
        if augment is not None:
            images = augment.denormalize(images)
        names = pl_module.hparams.get("class_names")
        targets = batch[1][: self.max_images].tolist()  # once every few epochs: may wait
        labels = [names[t] if names else str(t) for t in targets]
        self._kept = (images.cpu(), labels)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if self._kept is None or writer is None:
            return
        images, labels = self._kept
        self._kept = None
        title = f"augmented training batch, epoch {trainer.current_epoch + 1}"
        figure = batch_figure(images, labels, title)
        writer.add_figure("train/augmented_batch", figure, epoch_step(trainer), close=True)


def batch_figure(images: torch.Tensor, labels: list[str], title: str, columns: int = 8) -> Figure:
    """``images`` (N, C, H, W, values in [0, 1]) in rows of ``columns`` tiles, each with its
    label above it. One image (torchvision's grid) with the labels written on its gaps: a
    subplot per tile would take seconds to draw."""
    count, _, height, width = images.shape
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    gap = max(2, height // 4)  # room for a label above each tile
    grid = make_grid(images.clamp(0, 1), nrow=columns, padding=gap, pad_value=1.0)
    figure = Figure(figsize=(1.6 * columns, 1.6 * rows * 1.1 + 0.5), dpi=100, layout="constrained")
    figure.suptitle(title, fontsize=14)
    axes = figure.add_subplot()
    axes.imshow(grid.permute(1, 2, 0).numpy())
    axes.axis("off")
    for index, label in enumerate(labels):
        row, column = divmod(index, columns)
        x = gap + column * (width + gap) + width / 2
        y = gap + row * (height + gap)
        axes.text(x, y - gap / 2, label, ha="center", va="center", fontsize=10)
    return figure


# More classes than this: only the most confused ones are drawn, so each cell stays readable.
MAX_CLASSES_SHOWN = 20


def most_confused(matrix: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of the ``count`` classes with the most errors, as the true class (their row) and
    as the prediction (their column), most first; ties in class order."""
    errors = matrix - torch.diag(matrix.diag())
    score = errors.sum(dim=1) + errors.sum(dim=0)
    return torch.sort(score, descending=True, stable=True).indices[:count]


def confusion_figure(
    matrix: torch.Tensor, class_names: list[str] | None = None, title: str = "confusion matrix"
) -> Figure:
    """The confusion matrix (true class down, predicted across) coloured by row share, each cell
    with its count and share of the true class's images, a colour bar, and ``title``.

    More than MAX_CLASSES_SHOWN classes: the most confused ones only, named so in the title;
    the shares stay those of all the class's images. Drawn by torchmetrics' plot, with the
    counts, colour bar and title added (its cell text is a single number).
    """
    classes = matrix.shape[0]
    names = list(class_names) if class_names else [str(i) for i in range(classes)]
    shown = torch.arange(classes)
    if classes > MAX_CLASSES_SHOWN:
        shown = most_confused(matrix, MAX_CLASSES_SHOWN)
        title = f"{title}: the {MAX_CLASSES_SHOWN} most confused of {classes} classes"
    counts = matrix[shown][:, shown].cpu()
    shares = counts.float() / matrix.sum(dim=1)[shown].clamp(min=1).cpu().float()[:, None]
    n = len(shown)
    # Sized so that the text stays legible when TensorBoard scales the image to its card.
    side = min(5.5 + 0.35 * n, 12.0)
    figure = Figure(figsize=(side + 1.5, side), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    MulticlassConfusionMatrix(n).plot(
        val=shares, ax=axes, add_text=False, labels=[names[i] for i in shown], cmap="Blues"
    )
    image = axes.images[0]
    image.set_clim(0.0, 1.0)
    bar = figure.colorbar(image, ax=axes, fraction=0.05)
    bar.set_label("share of the true class's images", fontsize=12)
    bar.ax.tick_params(labelsize=11)
    label_size = max(8, min(12, int(300 / n)))
    axes.tick_params(labelsize=label_size)
    axes.tick_params(axis="y", labelrotation=0)
    axes.set_xlabel("predicted class", fontsize=13)
    axes.set_ylabel("true class", fontsize=13)
    axes.set_title(title, fontsize=14)
    cell_size = max(6, min(13, int(side * 72 / n / 3.2)))
    for row in range(n):
        for col in range(n):
            share = float(shares[row, col])
            axes.text(
                col,
                row,
                f"{int(counts[row, col])}\n{share:.0%}",
                ha="center",
                va="center",
                fontsize=cell_size,
                color="white" if share > 0.5 else "black",
            )
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
        writer = tensorboard_writer(trainer)
        if stage == "val" and writer is not None and trainer.is_global_zero:
            names = pl_module.hparams.get("class_names")
            title = f"val confusion matrix, epoch {trainer.current_epoch + 1}"
            figure = confusion_figure(matrix, names, title)
            writer.add_figure("val/confusion_matrix", figure, epoch_step(trainer), close=True)

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
