"""A sweep's job folders: which they are, what made each one, and its record (job.json).

job.json holds a job's state (complete, failed, pruned, interrupted), when it started and its
wall time. The job writes it itself when it ends (callback.JobRecordCallback); a sweeper may
then overwrite the state with its own verdict (an Optuna trial that returned NaN is failed).
Both go through ``write_job_record``, and both work the state out with ``job_outcome``.

Loaded at Hydra startup (through the callback and the sweeper plugins): no torch, Lightning or
Optuna imports at the top.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from hydra.core.utils import JobReturn, JobStatus

from alexnet_lightning.files import write_json

JOB_FILE = "job.json"
# The train config key through which each Optuna job learns its trial number (for pruning
# reports); sweeper plumbing, so left out of the overrides a user is shown.
TRIAL_KEY = "optuna_trial"
# The state of a trial a killed sweep left running; it is run again under a new number.
INTERRUPTED = "interrupted"


def is_trial_pruned(err: BaseException) -> bool:
    """Whether ``err`` is Optuna's TrialPruned (a trial stopped by the pruner)."""
    # Only a trial of the Optuna sweeper raises TrialPruned, and then optuna is imported;
    # importing it here for the isinstance test would cost every run a second.
    optuna = sys.modules.get("optuna")
    return optuna is not None and isinstance(err, optuna.TrialPruned)


def job_outcome(result: JobReturn) -> tuple[str, Any]:
    """A finished job's state and value: ("complete", what it returned), or ("pruned" or
    "failed", the exception it raised)."""
    if result.status == JobStatus.COMPLETED:
        return "complete", result.return_value
    try:
        # Hydra's public route to a failed job's exception: return_value re-raises it (and
        # writes "Error executing job with overrides: [...]" to stderr).
        _ = result.return_value
    except Exception as err:
        return ("pruned" if is_trial_pruned(err) else "failed"), err
    return "failed", None


def job_dir(result: JobReturn) -> Path | None:
    """The run folder of a launched job (None if Hydra did not get as far as making one)."""
    if result.hydra_cfg is None:
        return None
    return Path(result.hydra_cfg.hydra.runtime.output_dir)


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The job folders of a sweep, in job order (numbered ones first)."""
    return sorted(
        (p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()),
        key=lambda p: (0, int(p.name), "") if p.name.isdigit() else (1, 0, p.name),
    )


def job_overrides(job_dir: Path) -> list[str]:
    """The overrides that make this job, as a user would type them (sweeper plumbing left out).

    None for a job killed while Hydra was still writing its ``.hydra`` files (Hydra makes the
    folder, then config.yaml, hydra.yaml and overrides.yaml): its row is still reported.
    """
    path = job_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(path.read_text()) if path.is_file() else None
    return [o for o in overrides or [] if not o.startswith(f"{TRIAL_KEY}=")]


def read_job_record(job_dir: Path) -> dict[str, Any]:
    """The job's job.json, or {} when it has none (the job was killed before it ended)."""
    path = job_dir / JOB_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def write_job_record(job_dir: Path, **fields: Any) -> None:
    """Update the job's job.json with ``fields``, atomically. A folder that does not exist (the
    job never started) is left alone."""
    if not job_dir.is_dir():
        return
    # one line, as job.json has always been written
    write_json(job_dir / JOB_FILE, read_job_record(job_dir) | fields, end="\n")
