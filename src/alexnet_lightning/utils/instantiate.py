"""Build the Trainer, callbacks and loggers from their config groups (one entry per `_target_`)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch import Callback
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf

from alexnet_lightning.errors import ConfigError


def _instantiate_each(group: DictConfig | None) -> list:
    if not group:
        return []
    # Entries without _target_ (e.g. an option set to null to switch it off) are skipped.
    return [instantiate(entry) for entry in group.values() if entry and "_target_" in entry]


def instantiate_callbacks(callbacks: DictConfig | None) -> list[Callback]:
    return _instantiate_each(callbacks)


def instantiate_loggers(loggers: DictConfig | None) -> list[Logger]:
    return _instantiate_each(loggers)


def instantiate_trainer(trainer: DictConfig, **kwargs: Any) -> L.Trainer:
    """The Trainer of ``cfg.trainer``; a flag Lightning refuses (precision, accelerator,
    devices, strategy) ends in one ConfigError naming ``trainer.<key>``."""
    with lightning_flags(trainer, prefix="trainer."):
        return instantiate(trainer, **kwargs)


@contextmanager
def lightning_flags(flags: Mapping[str, Any], prefix: str = "") -> Iterator[None]:
    """Lightning's own refusal of a Trainer flag in ``flags`` as one ConfigError naming the key
    and quoting Lightning's allowed values: its lists are not copied here, so they stay those
    of the installed version."""
    try:
        yield
    except (InstantiationException, ValueError, MisconfigurationException) as err:
        refusal = err.__cause__ if isinstance(err, InstantiationException) else err
        if not isinstance(refusal, (ValueError, MisconfigurationException)):
            raise
        reason = str(refusal).strip().splitlines()[0] if str(refusal).strip() else repr(refusal)
        key = _flag_named_by(reason, flags)
        where = f"{prefix}{key}={flags[key]!r}" if key else "a Trainer setting"
        raise ConfigError(f"{where} is invalid; Lightning says: {reason}") from None


def _flag_named_by(reason: str, flags: Mapping[str, Any]) -> str | None:
    """The flag whose value Lightning's message quotes, the one it names first when several
    values appear (``Precision 8 is invalid`` beside ``max_epochs: 8``)."""
    quoted = [
        key
        for key, value in flags.items()
        if isinstance(value, (str, int))
        and not isinstance(value, bool)
        and re.search(rf"(?<![\w.-]){re.escape(str(value))}(?![\w.-])", reason)
    ]
    named = [key for key in quoted if key.lower() in reason.lower()]
    return (named or quoted or [None])[0]


def plain_config(value: Any) -> Any:
    """Hydra configs -> plain dicts and lists, so checkpoints load with
    torch.load(weights_only=True)."""
    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return {k: plain_config(v) for k, v in value.items()}
    return value
