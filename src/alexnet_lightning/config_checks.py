"""Checks of config values a user types, run before anything is built.

Hydra checks structure (unknown groups, typos in overrides); these check ranges, so a bad
value fails in a second with the key named instead of minutes later deep inside torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf

from alexnet_lightning.errors import ConfigError
from alexnet_lightning.models.alexnet import VARIANTS

# The smallest crop whose feature map survives AlexNet's three stride-2 pools.
MIN_IMAGE_SIZE = 64

# key -> (test, what a good value looks like)
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "model.net.variant": (lambda v: v in VARIANTS, f"one of {', '.join(VARIANTS)}"),
    "model.net.dropout": (lambda v: 0 <= v < 1, "in [0, 1), e.g. 0.5"),
    "model.optimizer.lr": (lambda v: v > 0, "> 0, e.g. 0.01"),
    "model.optimizer.weight_decay": (lambda v: v >= 0, ">= 0, e.g. 0.0005"),
    "model.optimizer.momentum": (lambda v: 0 <= v < 1, "in [0, 1), e.g. 0.9"),
    "model.label_smoothing": (lambda v: 0 <= v < 1, "in [0, 1), e.g. 0.1"),
    "data.num_classes": (lambda v: v >= 2, ">= 2"),
    "data.batch_size": (lambda v: v >= 1, ">= 1, e.g. 128"),
    "data.num_workers": (lambda v: v >= 0, ">= 0 (0 loads in the main process)"),
    "data.image_size": (lambda v: v >= MIN_IMAGE_SIZE, f">= {MIN_IMAGE_SIZE}, e.g. 224"),
    "data.lighting_std": (lambda v: v >= 0, ">= 0 (0 turns PCA lighting off)"),
    "data.on_bad_image": (lambda v: v in ("warn", "raise"), "warn or raise"),
    "trainer.max_epochs": (lambda v: v == -1 or v >= 1, ">= 1 (or -1 for no limit)"),
}


def _missing_keys(cfg: DictConfig, prefix: str = "") -> Iterator[str]:
    """Keys left at ``???``, found without resolving interpolations (which would raise)."""
    for key in cfg:
        if OmegaConf.is_missing(cfg, key):
            yield f"{prefix}{key}"
        elif not OmegaConf.is_interpolation(cfg, key) and isinstance(cfg[key], DictConfig):
            yield from _missing_keys(cfg[key], f"{prefix}{key}.")


def check_config(cfg: DictConfig) -> None:
    """Raise one ConfigError naming the first missing or out-of-range key."""
    missing = list(_missing_keys(cfg))
    if missing:
        raise ConfigError(
            f"{missing[0]} is not set; pass it on the command line, e.g. {missing[0]}=..."
        )
    for key, (test, expected) in _RULES.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is None:
            continue
        try:
            ok = bool(test(value))
        except TypeError:
            ok = False
        if not ok:
            raise ConfigError(f"{key}={value!r} is invalid: it must be {expected}")
