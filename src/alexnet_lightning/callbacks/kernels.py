"""``callbacks.kernels``: Figure 3 of the paper as a run goes, in TensorBoard and kernels.png."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
from PIL import Image

from alexnet_lightning.analysis.kernels import first_conv, kernel_figure
from alexnet_lightning.callbacks.tensorboard_images import epoch_step, tensorboard_writer

log = logging.getLogger(__name__)

# Figure 3 under its own name (README); in Time Series this group sorts before test/ and train/.
TAG = "kernels/first_conv"
COLOURFULNESS_TAG = "kernels/colourfulness/tower{}"


class KernelGrid(L.Callback):
    """Logs the first conv layer's kernels (one labelled block per tower) and each tower's
    colourfulness (``kernels/colourfulness/tower1|2``, mean Lab chroma) every
    ``every_n_epochs`` epochs and at the end of fit, where it also writes ``path``.

    Only at epoch ends and on rank zero: reading the weights waits for the device, once."""

    def __init__(self, every_n_epochs: int = 5, path: str | None = None) -> None:
        self.every_n_epochs, self.path = every_n_epochs, path
        self._logged_step: int | None = None
        self._off = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        try:
            first_conv(getattr(pl_module, "net", pl_module))
        except ValueError as err:  # a network of another kind (model.net._target_)
            log.warning("no kernels figure: %s", err)
            self._off = True

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self._log(trainer, pl_module, epoch=trainer.current_epoch + 1)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the epochs fit completed (its last epoch is counted once it has ended)
        figure = self._log(trainer, pl_module, epoch=trainer.current_epoch)
        if figure is not None and self.path:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(figure).save(self.path, optimize=True)

    def _log(
        self, trainer: L.Trainer, pl_module: L.LightningModule, epoch: int
    ) -> np.ndarray | None:
        """Log the kernels after ``epoch`` (counted from 1) at that epoch's step."""
        if self._off or not trainer.is_global_zero:
            return None
        net = getattr(pl_module, "net", pl_module)
        figure = kernel_figure(net, title=f"first conv layer, epoch {epoch}")
        step = epoch_step(trainer)
        if self._logged_step == step:  # fit ended on a logged epoch
            return figure.image
        self._logged_step = step
        writer = tensorboard_writer(trainer)
        if writer is not None:
            writer.add_image(TAG, figure.image, step, dataformats="HWC")
        scores = {COLOURFULNESS_TAG.format(i + 1): v for i, v in enumerate(figure.colourfulness)}
        for logger in trainer.loggers:
            logger.log_metrics(scores, step=step)
        return figure.image
