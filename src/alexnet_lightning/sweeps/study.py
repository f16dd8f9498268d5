"""The Optuna study of a sweep: where it is stored, how a killed sweep's trials are recovered,
and how a trial's job reports to it for pruning."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig
from optuna_integration.pytorch_lightning import PyTorchLightningPruningCallback

from alexnet_lightning.sweeps.jobs import INTERRUPTED, TRIAL_KEY

STUDY_FILE = "optuna.db"


def storage_url(storage: str | None, sweep_dir: str | Path) -> str:
    """The study's storage: the URL given, else SQLite in the sweep folder."""
    return storage or f"sqlite:///{Path(sweep_dir).resolve() / STUDY_FILE}"


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


def is_usable(value: Any) -> bool:
    """A job's return value Optuna can be told: a finite number."""
    return isinstance(value, int | float) and math.isfinite(value)


def open_trial(
    storage: str, study_name: str, number: int, pruner: optuna.pruners.BasePruner | None
) -> optuna.Trial:
    """The running trial ``number`` of a stored study, as a job sees it (to report and prune).
    The pruner is not part of the stored study, so the job brings the sweeper's own."""
    rdb = optuna.storages.get_storage(storage)
    study = optuna.load_study(study_name=study_name, storage=rdb, pruner=pruner)
    study_id = rdb.get_study_id_from_name(study_name)
    return optuna.trial.Trial(study, rdb.get_trial_id_from_study_id_trial_number(study_id, number))


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
