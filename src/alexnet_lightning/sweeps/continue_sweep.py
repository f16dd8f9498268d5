"""Rerunning a grid sweep's command after the sweep was killed finishes it in its own folder.

A grid sweep's folder is named by the time it started, so the same command run again would start
a second sweep from job 0. Instead the grid sweeper looks beside the new folder for the newest
sweep made by the same command (the same config and command-line overrides) that has jobs left
to run, and continues there: a job whose folder holds a complete record (job.json) of the same
overrides is kept; every other job runs again, its partial folder first moved under
``<sweep>/.set_aside/`` (nothing is deleted). An explicit ``hydra.sweep.dir=...`` is used as given
(and continued if it holds such jobs); a new folder name there starts a new sweep.

Loaded at Hydra startup through the sweeper plugin: no torch or Lightning imports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, read_write

from alexnet_lightning.sweeps.jobs import job_overrides, read_job_record

log = logging.getLogger(__name__)

SET_ASIDE = ".set_aside"
SWEEP_DIR_KEY = "hydra.sweep.dir"


def command_of(config: dict[str, Any]) -> tuple[str, list[str]]:
    """What makes two sweeps the same command: the entry config and the command-line overrides."""
    hydra = config.get("hydra", {})
    return hydra.get("job", {}).get("config_name"), list(hydra.get("overrides", {}).get("task", []))


def sweep_dir_given(config: DictConfig) -> bool:
    return any(o.startswith(f"{SWEEP_DIR_KEY}=") for o in config.hydra.overrides.hydra)


def is_complete(job_dir: Path, overrides: Sequence[str]) -> bool:
    """Whether this job folder holds a finished run of exactly these overrides."""
    return (
        job_dir.is_dir()
        and read_job_record(job_dir).get("state") == "complete"
        and job_overrides(job_dir) == list(overrides)
    )


def done_jobs(sweep_dir: Path, jobs: Sequence[Sequence[str]]) -> set[int]:
    """The numbers of the jobs (overrides in job order) that already ran to the end here."""
    return {
        num for num, overrides in enumerate(jobs) if is_complete(sweep_dir / str(num), overrides)
    }


def unfinished_sweep(
    config: DictConfig, jobs: Sequence[Sequence[str]]
) -> tuple[Path, set[int]] | None:
    """The sweep folder this command should continue and its complete jobs, or None for a new
    sweep."""
    target = Path(str(config.hydra.sweep.dir))
    if sweep_dir_given(config):
        candidates = [target] if (target / "multirun.yaml").is_file() else []
    elif target.parent.is_dir():
        # stamped names (%Y-%m-%d_%H-%M-%S) sort by time: the newest first
        candidates = sorted(
            (p for p in target.parent.iterdir() if (p / "multirun.yaml").is_file()), reverse=True
        )
    else:
        candidates = []
    ours = (config.hydra.job.config_name, list(config.hydra.overrides.task))
    for folder in candidates:
        if command_of(yaml.safe_load((folder / "multirun.yaml").read_text()) or {}) != ours:
            continue
        # the newest sweep of this command decides: finished, a rerun is a new sweep
        done = done_jobs(folder, jobs)
        return (folder, done) if len(done) < len(jobs) else None
    return None


def continue_in(config: DictConfig, sweep_dir: Path) -> None:
    """Points the sweep, its launcher and every job it launches at an existing sweep folder."""
    with read_write(config):
        config.hydra.sweep.dir = str(sweep_dir)
        # the launcher recomposes each job's config from these: without it, the job would
        # resolve the folder's ${now:...} again
        if not sweep_dir_given(config):
            config.hydra.overrides.hydra.append(f"{SWEEP_DIR_KEY}='{sweep_dir}'")


def set_aside(job_dir: Path) -> Path | None:
    """Moves a job's partial folder out of the sweep's job list, keeping every file."""
    if not job_dir.exists():
        return None
    dest = job_dir.parent / SET_ASIDE / f"{job_dir.name}_{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    dest.parent.mkdir(exist_ok=True)
    job_dir.rename(dest)
    return dest


def pending_runs(
    first_job: int, batch: Sequence[Sequence[str]], done: set[int]
) -> Iterator[tuple[int, list[Sequence[str]]]]:
    """The batch's jobs still to run, as (first job number, consecutive jobs) runs: a launcher
    numbers the jobs of one launch consecutively."""
    run: list[Sequence[str]] = []
    start = first_job
    for num, overrides in enumerate(batch, start=first_job):
        if num in done:
            if run:
                yield start, run
            run, start = [], num + 1
        else:
            run.append(overrides)
    if run:
        yield start, run


def announce(sweep_dir: Path, done: set[int], total: int) -> None:
    todo = [str(n) for n in range(total) if n not in done]
    log.info(
        "continuing the unfinished sweep %s: %d of %d jobs complete, running job(s) %s; "
        "for a new sweep pass hydra.sweep.dir=<a new folder>",
        sweep_dir,
        len(done),
        total,
        ", ".join(todo),
    )
