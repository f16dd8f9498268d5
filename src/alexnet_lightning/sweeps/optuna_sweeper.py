"""A Hydra sweeper on Optuna's ask/tell API: a resumable study in SQLite (or any RDB URL).

hydra-optuna-sweeper pins optuna<3 and its SQLite storage breaks with SQLAlchemy 2, hence this
one. Each trial is one Hydra job (job number = trial number), launched by whatever
``hydra/launcher`` is selected; ``n_jobs`` trials are asked for and launched at a time.

Loaded at Hydra startup (hydra_plugins imports every plugin): optuna is imported only once a
sweep starts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig

from alexnet_lightning.sweeps.jobs import (
    INTERRUPTED,
    TRIAL_KEY,
    job_dir,
    job_outcome,
    write_job_record,
)
from alexnet_lightning.sweeps.slurm_launcher import stop_unless_slurm_answers
from alexnet_lightning.sweeps.sweep_folder import make_sweep_folder, write_report_at_end

log = logging.getLogger(__name__)


class OptunaSweeper(Sweeper):
    def __init__(
        self,
        study_name: str,
        storage: str | None,
        direction: str,
        n_trials: int,
        n_jobs: int,
        max_failures: int,
        prune_on: str,
        sampler: Mapping[str, Any] | None,
        pruner: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None,
        enqueue_trials: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.study_name = study_name
        self.storage = storage
        self.direction = direction
        self.n_trials = n_trials
        self.n_jobs = max(1, n_jobs)
        self.max_failures = max_failures
        self.prune_on = prune_on
        self.sampler_cfg = sampler
        self.pruner_cfg = pruner
        self.params = dict(params or {})
        self.enqueue_trials = list(enqueue_trials or [])

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        import optuna

        from alexnet_lightning.errors import UserError
        from alexnet_lightning.sweeps.space import split_overrides
        from alexnet_lightning.sweeps.study import count_tried, recover_interrupted, storage_url

        assert self.config is not None and self.launcher is not None
        stop_unless_slurm_answers(self.config)
        sweep_dir = make_sweep_folder(self.config)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        try:
            space, fixed = split_overrides(self.params, arguments, parser)
        except UserError as err:  # one line, as for a single run's mistakes
            raise SystemExit(f"{err}") from None
        url = storage_url(self.storage, sweep_dir)
        study = optuna.create_study(
            study_name=self.study_name,
            storage=url,
            pruner=instantiate(self.pruner_cfg) if self.pruner_cfg else None,
            direction=self.direction,
            load_if_exists=True,
        )
        study.sampler = self._sampler(len(study.get_trials(deepcopy=False)))
        rerun = recover_interrupted(study, url)
        tried, _ = count_tried(study)
        if rerun:
            log.info("trials %s were interrupted; running them again", rerun)
        for number in rerun:  # their folders (job = trial number) may say otherwise
            write_job_record(sweep_dir / str(number), state=INTERRUPTED, trial=number)
        if tried == 0 and not rerun and not study.get_trials(deepcopy=False):
            for params in self.enqueue_trials:
                study.enqueue_trial(dict(params))
        log.info(
            "study %r in %s: %d of %d trials done; searching %s",
            self.study_name, url, tried, self.n_trials, ", ".join(space) or "nothing",
        )  # fmt: skip
        # Each job opens the study to report for pruning; the URL travels as a hydra override,
        # so it stays out of the job's own overrides.yaml.
        common = [*fixed, f"hydra.sweeper.storage='{url}'"]

        returns: list[Sequence[JobReturn]] = []
        failures = 0
        try:
            while tried < self.n_trials:
                batch = [study.ask(space) for _ in range(min(self.n_jobs, self.n_trials - tried))]
                results = self._launch(batch, common)
                for trial, result in zip(batch, results, strict=True):
                    failures += tell(study, trial, result) == "failed"
                tried += len(batch)
                returns.append(results)
                if failures > self.max_failures:
                    raise SystemExit(
                        f"{failures} trials failed, more than hydra.sweeper.max_failures="
                        f"{self.max_failures}; stopping the sweep. Logs: {sweep_dir}/<trial>/, "
                        f"report: {sweep_dir}/summary.md"
                    )
        finally:
            write_report_at_end(sweep_dir, self.config.get("optimized_metric"), self.direction)
        self._log_best(study)
        return returns

    def _sampler(self, trials_so_far: int) -> Any:
        if not self.sampler_cfg:
            import optuna

            return optuna.samplers.TPESampler()
        seed = self.sampler_cfg.get("seed")
        if seed is None:
            return instantiate(self.sampler_cfg)
        # A resumed sweep would otherwise replay the first run's random draws: same seed,
        # same sequence, duplicate trials.
        return instantiate(self.sampler_cfg, seed=seed + trials_so_far)

    def _launch(self, batch: list, common: list[str]) -> list[JobReturn]:
        from alexnet_lightning.sweeps.space import trial_overrides

        jobs = [[*common, *trial_overrides(t.params), f"{TRIAL_KEY}={t.number}"] for t in batch]
        self.validate_batch_is_legal(jobs)
        numbers = [t.number for t in batch]
        if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
            return list(self.launcher.launch(jobs, initial_job_idx=numbers[0]))
        # job folder = trial number, so trials numbered apart are launched one at a time
        return [
            r for job, n in zip(jobs, numbers, strict=True) for r in self.launcher.launch([job], n)
        ]

    def _log_best(self, study: Any) -> None:
        try:
            best = study.best_trial
        except ValueError:  # no trial completed
            log.warning("no trial of study %r completed", self.study_name)
            return
        log.info(
            "best trial %d: %s = %s with %s",
            best.number, self.config.get("optimized_metric"), best.value, best.params,
        )  # fmt: skip


def tell(study: Any, trial: Any, result: JobReturn) -> str:
    """Tell the study how a trial's job ended and record that state in its job.json; a job that
    completed without a finite metric (NaN, none) is a failed trial. Returns the state."""
    import optuna

    from alexnet_lightning.sweeps.study import is_usable

    state, value = job_outcome(result)
    if state == "complete" and is_usable(value):
        study.tell(trial, float(value))
    elif state == "pruned":
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        reason = f"returned {value!r}" if result.status == JobStatus.COMPLETED else repr(value)
        log.warning("trial %d failed: %s", trial.number, reason)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        state = "failed"
    folder = job_dir(result)
    if folder is not None:
        write_job_record(folder, state=state, trial=trial.number)
    return state
