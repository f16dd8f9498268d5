"""Each key's type, read from its default in the YAML: a value typed on the command line must
be of that type, so a key declared once (in its config group) is checked without a rule.

config_checks.RULES adds ranges and lists of choices; a key with a rule is left to it. Like
config_checks, this imports neither torch nor Lightning (it runs before they are imported).
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Container, Iterable, Iterator
from typing import Any

from hydra import compose
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from alexnet_lightning.errors import ConfigError

log = logging.getLogger(__name__)

_NO_DEFAULT = object()
SEARCHPATH = "hydra.searchpath"


def check_typed_overrides(
    cfg: DictConfig, defaults: DictConfig, keys: Iterable[str], ruled: Container[str]
) -> None:
    """Raise one ConfigError for the first of ``keys`` whose value in ``cfg`` has another type
    than its value in ``defaults`` (the same config before the command line's values): a bool
    takes true or false, an int an integer, a float a number. A null switches a key off and is
    always taken; strings, lists and mappings are taken as typed."""
    for key in keys:
        if key in ruled:
            continue
        default = _raw_value(defaults, key)
        value = OmegaConf.select(
            cfg, key, default=None, throw_on_missing=False, throw_on_resolution_failure=False
        )
        if default is _NO_DEFAULT or value is None or OmegaConf.is_config(value):
            continue
        kind = _kind_of(default)
        if kind and not _is_a(value, kind):
            raise ConfigError(
                f"{key}={value!r} is invalid: it must be {kind} (its default is {default!r})"
            )


def command_line_keys(overrides: Iterable[str], groups: Container[str]) -> Iterator[str]:
    """The value keys a command line sets (``data.hflip=false``), not its group choices
    (``data=cifar10``, ``+arm=one_tower``) or deletions (``~key``)."""
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        if override.is_delete() or key.replace(".", "/") in groups or key.startswith("hydra."):
            continue
        yield key


def check_command_line_types(cfg: DictConfig, ruled: Container[str]) -> None:
    """In a Hydra app: the types of the values this run's command line set (see
    ``check_typed_overrides``)."""
    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        # where the run found its configs (a user's hydra.searchpath), for the same choices
        searchpath = [o for o in hydra_cfg.overrides.hydra if _key_of(o) == SEARCHPATH]
        check_overrides_against_defaults(
            cfg,
            hydra_cfg.job.config_name,
            [*searchpath, *hydra_cfg.overrides.task],
            hydra_cfg.runtime.choices,
            ruled,
        )


def check_overrides_against_defaults(
    cfg: DictConfig,
    config_name: str,
    overrides: Iterable[str],
    groups: Container[str],
    ruled: Container[str],
) -> None:
    """``check_typed_overrides`` for the values of ``overrides`` against ``config_name``
    composed with their group choices only (Hydra must be initialised, as in its app)."""
    overrides = list(overrides)
    keys = [key for key in command_line_keys(overrides, groups) if key not in ruled]
    if not keys:
        return  # no second composition (about 0.2 s) when every value typed has its own rule
    choices = [
        o for o in overrides if _key_of(o).replace(".", "/") in groups or _key_of(o) == SEARCHPATH
    ]
    try:
        defaults = compose(config_name, overrides=choices)
    except Exception as err:  # a check must not stop a run that Hydra itself composed
        log.debug("types of %s not checked: %s", keys, err)
        return
    check_typed_overrides(cfg, defaults, keys, ruled)


def _key_of(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _raw_value(cfg: DictConfig, key: str) -> Any:
    """The value at ``key`` as written (an interpolation, ``???`` or an absent key: none)."""
    *parents, leaf = key.split(".")
    node: Any = cfg
    for part in parents:
        if (
            not isinstance(node, DictConfig)
            or part not in node
            or OmegaConf.is_interpolation(node, part)
        ):
            return _NO_DEFAULT
        node = node[part]
    if not isinstance(node, DictConfig) or leaf not in node:
        return _NO_DEFAULT
    if OmegaConf.is_interpolation(node, leaf) or OmegaConf.is_missing(node, leaf):
        return _NO_DEFAULT
    value = node[leaf]
    return _NO_DEFAULT if value is None else value


def _kind_of(default: Any) -> str | None:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, numbers.Integral):
        return "an integer"
    if isinstance(default, numbers.Real):
        return "a number"
    return None  # a string, list or mapping: taken as typed


def _is_a(value: Any, kind: str) -> bool:
    if kind == "true or false":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "an integer":
        return isinstance(value, numbers.Integral)
    return isinstance(value, numbers.Real)
