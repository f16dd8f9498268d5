"""Build callbacks and loggers from their config groups (one entry per `_target_`)."""

from __future__ import annotations

from hydra.utils import instantiate
from lightning.pytorch import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig


def _instantiate_each(group: DictConfig | None) -> list:
    if not group:
        return []
    # Entries without _target_ (e.g. an option set to null to switch it off) are skipped.
    return [instantiate(entry) for entry in group.values() if entry and "_target_" in entry]


def instantiate_callbacks(callbacks: DictConfig | None) -> list[Callback]:
    return _instantiate_each(callbacks)


def instantiate_loggers(loggers: DictConfig | None) -> list[Logger]:
    return _instantiate_each(loggers)
