"""Build callbacks and loggers from their config groups (one entry per `_target_`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.utils import instantiate
from lightning.pytorch import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf


def _instantiate_each(group: DictConfig | None) -> list:
    if not group:
        return []
    # Entries without _target_ (e.g. an option set to null to switch it off) are skipped.
    return [instantiate(entry) for entry in group.values() if entry and "_target_" in entry]


def instantiate_callbacks(callbacks: DictConfig | None) -> list[Callback]:
    return _instantiate_each(callbacks)


def instantiate_loggers(loggers: DictConfig | None) -> list[Logger]:
    return _instantiate_each(loggers)


def plain_config(value: Any) -> Any:
    """Hydra configs -> plain dicts and lists, so checkpoints load with
    torch.load(weights_only=True)."""
    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return {k: plain_config(v) for k, v in value.items()}
    return value
