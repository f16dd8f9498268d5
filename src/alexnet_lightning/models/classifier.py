"""LightningModule: a network (AlexNet by default) trained with cross-entropy, the metrics
metrics.METRICS declares computed with torchmetrics."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from torch import nn
from torchmetrics import MaxMetric, Metric, MetricCollection

from alexnet_lightning.metrics import computed
from alexnet_lightning.models.net import build_net, current_spec
from alexnet_lightning.models.weighted_mean import WeightedMean
from alexnet_lightning.utils.instantiate import plain_config


def view_averaged_logits(
    model: Callable[[torch.Tensor], torch.Tensor], views: torch.Tensor
) -> torch.Tensor:
    """(batch, views, C, H, W) -> log of the softmax averaged over the views, (batch, classes):
    the paper's ten-crop prediction (section 4.1).

    Logs, so the cross-entropy of the result is the NLL of the averaged softmax and its argmax
    is the paper's prediction (averaging logits instead would weigh one confident view more).
    """
    probs = model(views.flatten(0, 1)).softmax(dim=1)
    return probs.view(*views.shape[:2], -1).mean(dim=1).clamp_min(1e-12).log()


BEST_KEY = "val_acc_best.max_value"


def stage_collection(num_classes: int, stage: str, prefix: str | None = None) -> MetricCollection:
    """The metrics metrics.METRICS has the module compute in ``stage``, logged as
    ``<prefix><name>`` (``prefix`` defaults to ``<stage>/``)."""
    made = {name: make(num_classes) for name, make in computed(stage).items()}
    return MetricCollection(made, prefix=f"{stage}/" if prefix is None else prefix)


class AlexNetClassifier(L.LightningModule):
    """Image classification with the network ``net`` configures.

    Args:
        net: the network's ``_target_`` (a class or builder) and its keyword arguments
            (num_classes, dropout, ...), as models/net.py builds them.
        optimizer: Hydra config of a partial optimizer (``_partial_: true``), called with the
            parameters.
        scheduler: Hydra config of a partial LR scheduler, called with the optimizer, or None.
            A scheduler that takes ``total_steps`` gets the run's number of optimizer steps and
            steps every batch; the others step once per epoch (ReduceLROnPlateau on
            ``monitor``).
        class_names: human-readable class names, kept in the checkpoint for prediction.
        label_smoothing: cross-entropy label smoothing.
        monitor: metric ReduceLROnPlateau watches (maximised when it is an accuracy).
        compile: run the network through ``torch.compile`` (worth it on GPUs, not on CPU).
        channels_last: keep weights and input batches in channels-last memory format, which
            tensor cores prefer under bf16/16-bit mixed precision.
    """

    def __init__(
        self,
        net: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any] | None = None,
        class_names: list[str] | None = None,
        label_smoothing: float = 0.0,
        monitor: str = "val/acc",
        compile: bool = False,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        net = current_spec(plain_config(net))
        # The weights file seeds a fresh run only; a checkpoint carries the weights itself.
        weights = net.pop("weights", None)
        self.save_hyperparameters(
            {
                "net": net,
                "optimizer": plain_config(optimizer),
                "scheduler": plain_config(scheduler),
                "class_names": list(class_names) if class_names is not None else None,
                "label_smoothing": float(label_smoothing),
                "monitor": monitor,
                "compile": bool(compile),
                "channels_last": bool(channels_last),
            },
            logger=False,
        )
        self.net = build_net(net, weights=weights)
        num_classes = self.num_classes
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        self.criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.train_metrics = stage_collection(num_classes, "train")
        self.train_loss = WeightedMean()
        self.val_metrics = stage_collection(num_classes, "val")
        self.test_metrics = stage_collection(num_classes, "test")
        # Loss means as metric objects: their sums and counts are synchronised across ranks, so
        # with shards of unequal size the value still equals the single-process one.
        self.eval_loss = nn.ModuleDict({"val": WeightedMean(), "test": WeightedMean()})
        if channels_last:
            self.net.to(memory_format=torch.channels_last)
        if compile:
            # Module.compile keeps the parameter names, so checkpoints stay loadable uncompiled.
            self.net.compile()
        # Best val/acc so far. Persistent, so it travels in the checkpoint's state_dict and a
        # resumed run (or a requeued sweep job) reports the best over all its epochs; torchmetrics
        # leaves metric states out of state_dict by default.
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)

    @property
    def num_classes(self) -> int:
        return int(self.hparams.net["num_classes"])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.hparams.channels_last and images.dim() == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.net(images)

    def _shared_step(
        self,
        batch: Any,
        metrics: MetricCollection,
        stage: str,
        predict: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> dict | None:
        """Loss and metrics of a batch; ``predict`` (images -> logits) defaults to forward."""
        images, targets = batch
        if images.shape[0] == 0:  # every image of the batch was unreadable and skipped
            return None
        logits = (predict or self)(images)
        loss = self.criterion(logits, targets)
        # update, not forward: only epoch values are logged, and forward would also compute
        # this batch's accuracy
        metrics.update(logits, targets)
        batch_size = images.shape[0]
        if stage == "train":
            # A metric object rather than a tensor, so the epoch's running mean can travel in a
            # mid-epoch checkpoint (see on_save_checkpoint); synchronised across ranks itself.
            self.train_loss.update(loss, batch_size)
            self.log(
                "train/loss",
                self.train_loss,
                on_step=False,
                on_epoch=True,
                prog_bar=True,
                batch_size=batch_size,
            )
        else:
            self.eval_loss[stage].update(loss, batch_size)
            self.log(
                f"{stage}/loss",
                self.eval_loss[stage],
                on_step=False,
                on_epoch=True,
                prog_bar=True,
                batch_size=batch_size,
            )
        self.log_dict(
            metrics, on_step=False, on_epoch=True, prog_bar=stage != "test", batch_size=batch_size
        )
        return {"loss": loss, "preds": logits.detach().argmax(dim=1), "targets": targets}

    def training_step(self, batch: Any, batch_idx: int) -> dict | None:
        # a non-finite loss stops the run: callbacks/loss_watch.py, without a per-step sync
        return self._shared_step(batch, self.train_metrics, "train")

    def on_train_epoch_end(self) -> None:
        # over the whole epoch (restored sums of a mid-epoch resume included): the paper's
        # Figure 1 counts epochs to 25% training error. Read through Lightning, which computes
        # (and so synchronises) every epoch metric on every rank in one order; a compute() of
        # one metric here would meet another rank's collective for a different one.
        accuracy = self.trainer.callback_metrics.get("train/acc")
        if accuracy is not None:
            # the same on every rank: sync_dist only tells Lightning so (no DDP warning)
            self.log("train/error", 1.0 - accuracy, sync_dist=True)

    def validation_step(self, batch: Any, batch_idx: int) -> dict | None:
        return self._shared_step(batch, self.val_metrics, "val")

    def test_step(self, batch: Any, batch_idx: int) -> dict | None:
        # (batch, views, C, H, W) from a DataModule with test_views=ten_crop
        predict = partial(view_averaged_logits, self) if batch[0].dim() == 5 else None
        return self._shared_step(batch, self.test_metrics, "test", predict)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            # The sanity check's batches are not an epoch's validation: they must not count
            # towards the best, which on resume already holds the checkpoint's value.
            return
        self.val_acc_best(self.val_metrics["acc"].compute())
        best = self.val_acc_best.compute()
        self.log("val/acc_best", best, sync_dist=True, prog_bar=True)

    def best_val_acc(self) -> float | None:
        """The best val/acc of the epochs validated so far, restored ones included."""
        best = float(self.val_acc_best.max_value)
        return best if math.isfinite(best) else None

    def train_epoch_metrics(self) -> dict[str, Metric]:
        """The metrics summed over a training epoch, whose running sums a mid-epoch checkpoint
        keeps (callbacks/exact_resume.TrainEpochMetricsCheckpoint)."""
        return {"train/loss": self.train_loss, **dict(self.train_metrics.items())}

    def configure_optimizers(self) -> Any:
        optimizer = instantiate(self.hparams.optimizer)(params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        make_scheduler = instantiate(self.hparams.scheduler)
        if "total_steps" in inspect.signature(make_scheduler).parameters:
            scheduler = make_scheduler(
                optimizer, total_steps=int(self.trainer.estimated_stepping_batches)
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
            }
        scheduler = make_scheduler(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": scheduler,
                "interval": "epoch",
                "monitor": self.hparams.monitor,
            },
        }
