"""The paper's ten-crop test (Krizhevsky et al. 2012, section 4.1), in one place.

The ten views of an image (its four corners and centre, and the same of its mirror image), cut
from a file by a loader worker (``ten_crop``) or from a batch of packed images (``ten_crops``);
the prediction, the softmax averaged over the views (``view_averaged_logits``); and the eval
run that reports it beside the single-crop metrics (``ten_crop_metrics``, ``eval.py
tta=ten_crop``). A DataModule with ``test_views=ten_crop`` hands the test step batches of
shape (batch, 10, C, H, W); AlexNetClassifier.test_step sends those here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torchvision.transforms import v2

from alexnet_lightning.data.batch_crops import center_crops
from alexnet_lightning.data.transforms import EVAL_RESIZE_RATIO
from alexnet_lightning.utils.run_files import to_floats

VIEWS = 10
SUFFIX = "_ten_crop"  # test/acc -> test/acc_ten_crop


def ten_crop(image_size: int, resize_ratio: float = EVAL_RESIZE_RATIO) -> Callable:
    """Per file: resize, then the ten views as a uint8 (10, C, H, W) tensor."""
    resize = v2.Resize(round(image_size * resize_ratio), antialias=True)
    # A partial of a module-level function, so loader workers can pickle it.
    return partial(_ten_views, resize, v2.TenCrop(image_size))


def _ten_views(resize: v2.Resize, crop: v2.TenCrop, image: object) -> torch.Tensor:
    views = crop(resize(image))
    if isinstance(views[0], torch.Tensor):  # decoded by torchvision
        return torch.stack(list(views))
    return torch.stack([v2.functional.pil_to_tensor(view) for view in views])


def ten_crops(images: torch.Tensor, size: int) -> torch.Tensor:
    """Per batch (N, C, H, W) -> (N, 10, C, size, size), in ``v2.TenCrop(size)``'s order:
    top-left, top-right, bottom-left, bottom-right, centre, then the same of the mirror image."""
    height, width = images.shape[-2:]

    def five(x: torch.Tensor) -> list[torch.Tensor]:
        bottom, right = height - size, width - size
        return [
            x[..., :size, :size],
            x[..., :size, right:],
            x[..., bottom:, :size],
            x[..., bottom:, right:],
            center_crops(x, size),
        ]

    return torch.stack(five(images) + five(images.flip(-1)), dim=1)


def view_averaged_logits(
    model: Callable[[torch.Tensor], torch.Tensor], views: torch.Tensor
) -> torch.Tensor:
    """(batch, views, C, H, W) -> log of the softmax averaged over the views, (batch, classes).

    Logs, so the cross-entropy of the result is the NLL of the averaged softmax and its argmax
    is the paper's prediction (averaging logits instead would weigh one confident view more).
    """
    probs = model(views.flatten(0, 1)).softmax(dim=1)
    return probs.view(*views.shape[:2], -1).mean(dim=1).clamp_min(1e-12).log()


def ten_crop_metrics(
    cfg: DictConfig, trainer: L.Trainer, model: L.LightningModule, inputs: Mapping[str, Any]
) -> dict[str, float]:
    """Test ``model`` again on the ten views of ``cfg.split``: ``test/<metric>_ten_crop``.

    ``inputs`` are the checkpoint's input settings (image_size, mean, ...), as for the
    single-crop test.
    """
    datamodule = instantiate(cfg.data, test_split=cfg.split, test_views="ten_crop", **inputs)
    trainer.test(model, datamodule=datamodule)
    return {
        f"{key}{SUFFIX}": value
        for key, value in to_floats(trainer.callback_metrics).items()
        if key.startswith("test/")
    }
