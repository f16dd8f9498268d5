"""The Optuna search space, written in Hydra's own sweep syntax.

``choice(32, 64)``, ``a,b``, ``range(...)``, ``interval(1e-4, 0.1)`` tagged ``log`` or ``int``:
a search reads like any other Hydra sweep, command-line overrides add or replace dimensions,
and Hydra's parser does the parsing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
)
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from alexnet_lightning.errors import ConfigError


def distribution(override: Override) -> BaseDistribution:
    """An Optuna distribution for one sweep override (``key=choice(...)``, ``interval``...)."""
    sweep = override.value()
    if isinstance(sweep, ChoiceSweep | RangeSweep):
        return CategoricalDistribution(list(override.sweep_iterator()))
    if isinstance(sweep, IntervalSweep):
        log = "log" in sweep.tags
        if "int" in sweep.tags:  # Hydra parses interval bounds as floats
            return IntDistribution(int(sweep.start), int(sweep.end), log=log)
        return FloatDistribution(sweep.start, sweep.end, log=log)
    raise ConfigError(
        f"{override.input_line} is not a search dimension the Optuna sweeper can sample; use "
        "choice(a,b), a,b, range(start,stop), interval(low,high) or tag(log, interval(...))"
    )


def split_overrides(
    params: Mapping[str, Any], arguments: Iterable[str], parser: OverridesParser
) -> tuple[dict[str, BaseDistribution], list[str]]:
    """Search space (config ``params`` updated by command-line sweeps) and the fixed overrides."""
    space: dict[str, BaseDistribution] = {}
    fixed: list[str] = []
    lines = [f"{key}={value}" for key, value in params.items()]
    for override in parser.parse_overrides([*lines, *arguments]):
        key = override.get_key_element()
        if override.is_sweep_override():
            space[key] = distribution(override)
        else:
            space.pop(key, None)  # a fixed value on the command line replaces a dimension
            fixed.append(override.input_line)
    return space, fixed


def trial_overrides(params: dict[str, Any]) -> list[str]:
    """Hydra overrides for a trial's sampled values."""
    return [f"{key}={_format(value)}" for key, value in params.items()]


def _format(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)
