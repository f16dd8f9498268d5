"""A Hydra sweeper on Optuna's ask/tell API: a resumable study in SQLite (or any RDB URL).

hydra-optuna-sweeper pins optuna<3 and its SQLite storage breaks with SQLAlchemy 2, hence this
one. Each trial is one Hydra job (job number = trial number), launched by whatever
``hydra/launcher`` is selected; ``n_jobs`` trials are asked for and launched at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from .common import record_state, write_report, write_state

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

        from alexnet_lightning import optuna_search as search
        from alexnet_lightning.errors import UserError

        assert self.config is not None and self.launcher is not None
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        try:
            space, fixed = search.split_overrides(self.params, arguments, parser)
        except UserError as err:  # one line, as for a single run's mistakes
            raise SystemExit(f"{err}") from None
        url = search.storage_url(self.storage, sweep_dir)
        study = optuna.create_study(
            study_name=self.study_name,
            storage=url,
            pruner=instantiate(self.pruner_cfg) if self.pruner_cfg else None,
            direction=self.direction,
            load_if_exists=True,
        )
        study.sampler = self._sampler(len(study.get_trials(deepcopy=False)))
        rerun = search.recover_interrupted(study, url)
        tried, _ = search.count_tried(study)
        if rerun:
            log.info("trials %s were interrupted; running them again", rerun)
        for number in rerun:  # their folders (job = trial number) may say otherwise
            write_state(sweep_dir / str(number), "interrupted", trial=number)
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
                    state = self._tell(study, trial, result)
                    failures += state == "failed"
                tried += len(batch)
                returns.append(results)
                if failures > self.max_failures:
                    raise SystemExit(
                        f"{failures} trials failed, more than hydra.sweeper.max_failures="
                        f"{self.max_failures}; stopping the sweep. Logs: {sweep_dir}/<trial>/, "
                        f"report: {sweep_dir}/summary.md"
                    )
        finally:
            write_report(sweep_dir, self.config.get("optimized_metric"), self.direction)
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
        from alexnet_lightning import optuna_search as search

        jobs = [
            [*common, *search.trial_overrides(t.params), f"{search.TRIAL_KEY}={t.number}"]
            for t in batch
        ]
        self.validate_batch_is_legal(jobs)
        numbers = [t.number for t in batch]
        if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
            return list(self.launcher.launch(jobs, initial_job_idx=numbers[0]))
        # job folder = trial number, so trials numbered apart are launched one at a time
        return [
            r for job, n in zip(jobs, numbers, strict=True) for r in self.launcher.launch([job], n)
        ]

    def _tell(self, study: Any, trial: Any, result: JobReturn) -> str:
        import optuna

        from alexnet_lightning.optuna_search import is_usable

        # _return_value: JobReturn.return_value re-raises a failed job's exception
        if result.status == JobStatus.COMPLETED and is_usable(result._return_value):
            study.tell(trial, float(result._return_value))
            state = "complete"
        elif isinstance(result._return_value, optuna.TrialPruned):
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            state = "pruned"
        else:
            why = result._return_value
            reason = f"returned {why!r}" if result.status == JobStatus.COMPLETED else repr(why)
            log.warning("trial %d failed: %s", trial.number, reason)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            state = "failed"
        record_state(result, state, trial=trial.number)
        return state

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
