"""Opening a checkpoint for eval and predict, with one clear error for each way it can be wrong."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from alexnet_lightning.errors import CheckpointError
from alexnet_lightning.models.classifier import AlexNetClassifier


def read_checkpoint(path: str | Path, mmap: bool = False) -> dict[str, Any]:
    """torch.load(weights_only=True) with the failure modes turned into CheckpointError.

    ``mmap=True`` maps the tensors instead of reading them: for checks of the metadata only
    (a resume reads the file again in the trainer; an AlexNet with Adam state is ~0.7 GB).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist; pass ckpt_path=logs/train/runs/<stamp>/"
            "checkpoints/best.ckpt (or last.ckpt)"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError, OSError) as err:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or another format: {err}); "
            "use a best.ckpt or last.ckpt written by scripts/train.py"
        ) from None
    if (
        not isinstance(checkpoint, dict)
        or "state_dict" not in checkpoint
        or ("net" not in checkpoint.get("hyper_parameters", {}))
    ):
        raise CheckpointError(
            f"{path} is not an AlexNet checkpoint of this project (no state_dict and model "
            "hyperparameters); use a best.ckpt or last.ckpt written by scripts/train.py"
        )
    return checkpoint


def load_classifier(path: str | Path) -> tuple[AlexNetClassifier, dict[str, Any]]:
    """Rebuild the trained model from a checkpoint alone; also return the data settings."""
    checkpoint = read_checkpoint(path)
    model = AlexNetClassifier(**checkpoint["hyper_parameters"])
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(f"{path} does not match its own hyperparameters: {err}") from None
    model.eval()
    return model, dict(checkpoint.get("datamodule_hyper_parameters") or {})


def check_fits(model: AlexNetClassifier, num_classes: int, path: str | Path) -> None:
    """A checkpoint must have as many classes as the data it is evaluated on."""
    if model.num_classes != num_classes:
        raise CheckpointError(
            f"{path} was trained on {model.num_classes} classes but data.num_classes="
            f"{num_classes}; evaluate it on the dataset it was trained on"
        )


def check_resumable(checkpoint: dict[str, Any], net: dict[str, Any], path: str | Path) -> None:
    """Training resumes only into the same network: variant and class count must match."""
    saved = checkpoint["hyper_parameters"]["net"]
    for key, config_key in (("variant", "model.net.variant"), ("num_classes", "data.num_classes")):
        if saved.get(key) != net.get(key):
            raise CheckpointError(
                f"{path} holds a {saved.get('variant')} network with {saved.get('num_classes')} "
                f"classes but this run builds {net.get('variant')} with {net.get('num_classes')}"
                f" ({config_key} differs); resume with the checkpoint's own settings "
                "(experiment and data) or start a fresh run (ckpt_path=null)"
            )
