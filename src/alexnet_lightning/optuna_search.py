"""Optuna side of the sweeper: search space from Hydra sweep overrides, study storage, trials.

The search space is written in Hydra's own sweep syntax (``choice(32, 64)``, ``a,b``,
``interval(1e-4, 0.1)`` tagged ``log``), so it reads like any other Hydra sweep and command-line
overrides add or replace dimensions; Hydra's parser does the parsing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
)
from hydra.utils import instantiate
from omegaconf import DictConfig
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna_integration.pytorch_lightning import PyTorchLightningPruningCallback

from alexnet_lightning.errors import ConfigError

STUDY_FILE = "optuna.db"
# The train config key through which each job learns its trial number (for pruning reports).
TRIAL_KEY = "optuna_trial"
# Set on trials a killed sweep left running: they are re-run and do not count as tried.
INTERRUPTED = "interrupted"


def storage_url(storage: str | None, sweep_dir: str | Path) -> str:
    """The study's storage: the URL given, else SQLite in the sweep folder."""
    return storage or f"sqlite:///{Path(sweep_dir).resolve() / STUDY_FILE}"


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


def count_tried(study: optuna.Study) -> tuple[int, int]:
    """(finished trials, failed trials) that count towards ``n_trials``; re-run ones excluded."""
    done = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.FAIL,
    )
    counted = [
        t for t in study.get_trials(deepcopy=False, states=done) if INTERRUPTED not in t.user_attrs
    ]
    return len(counted), sum(t.state == optuna.trial.TrialState.FAIL for t in counted)


def recover_interrupted(study: optuna.Study, storage_url: str) -> list[int]:
    """Trials a killed sweep left RUNNING: mark them failed and queue their parameters again.

    Assumes one sweeper process per study (parallelism comes from the launcher's jobs)."""
    storage = optuna.storages.get_storage(storage_url)
    study_id = storage.get_study_id_from_name(study.study_name)
    numbers = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_user_attr(trial_id, INTERRUPTED, True)
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        numbers.append(trial.number)
    return numbers


def open_trial(
    storage: str, study_name: str, number: int, pruner: optuna.pruners.BasePruner | None
) -> optuna.Trial:
    """The running trial ``number`` of a stored study, as a job sees it (to report and prune).
    The pruner is not part of the stored study, so the job brings the sweeper's own."""
    rdb = optuna.storages.get_storage(storage)
    study = optuna.load_study(study_name=study_name, storage=rdb, pruner=pruner)
    study_id = rdb.get_study_id_from_name(study_name)
    return optuna.trial.Trial(study, rdb.get_trial_id_from_study_id_trial_number(study_id, number))


def is_usable(value: Any) -> bool:
    """A job's return value Optuna can be told: a finite number."""
    return isinstance(value, int | float) and math.isfinite(value)


def pruning_callback(cfg: DictConfig) -> PyTorchLightningPruningCallback | None:
    """In an Optuna trial's job, the callback that reports ``hydra.sweeper.prune_on`` per epoch
    to the study and raises ``optuna.TrialPruned`` when the pruner says stop; else None."""
    number = cfg.get(TRIAL_KEY)
    if number is None:
        return None
    sweeper = HydraConfig.get().sweeper
    pruner = instantiate(sweeper.pruner) if sweeper.get("pruner") else None
    trial = open_trial(sweeper.storage, sweeper.study_name, number, pruner)
    return PyTorchLightningPruningCallback(trial, monitor=sweeper.prune_on)
