"""Small checkpoints for tests, written without training: the tiny CIFAR network with seeded
random weights, in the layout scripts/train.py writes (what load_classifier reads)."""

from __future__ import annotations

from pathlib import Path

import torch

from alexnet_lightning.models.classifier import AlexNetClassifier

SGD = {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.01}


def write_checkpoint(
    path: Path,
    seed: int = 0,
    class_names: list[str] | None = None,
    image_size: int = 64,
    **net: object,
) -> Path:
    """A checkpoint of the cifar variant (``net`` overrides its switches) for ``class_names``
    (default four classes), trained to see ``image_size`` px crops."""
    names = class_names or ["circle", "square", "triangle", "star"]
    torch.manual_seed(seed)
    model = AlexNetClassifier(
        net={"variant": "cifar", "num_classes": len(names), "init_weights": False, **net},
        optimizer=SGD,
        class_names=names,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": model.state_dict(),
            "hyper_parameters": dict(model.hparams),
            "datamodule_hyper_parameters": {"image_size": image_size},
        },
        path,
    )
    return path
