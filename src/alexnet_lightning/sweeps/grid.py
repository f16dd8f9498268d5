"""The grid sweeper: Hydra's, but a failed job is recorded and the rest of the grid still runs."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus

from alexnet_lightning.compat import sweep_params
from alexnet_lightning.sweeps import continue_sweep
from alexnet_lightning.sweeps.slurm_launcher import stop_unless_slurm_answers
from alexnet_lightning.sweeps.summary import job_log
from alexnet_lightning.sweeps.sweep_folder import make_sweep_folder, write_report_at_end


class RunEveryJob:
    """The sweep loop of our grid sweeper, mixed in before Hydra's BasicSweeper (see
    hydra_plugins/alexnet_sweepers/grid.py). BasicSweeper stops at the first batch with a
    failed job and skips Hydra's end-of-sweep callbacks; this loop runs every batch, writes the
    report, then exits non-zero naming the failed jobs. The grid itself (``key=a,b`` lists,
    ``params``, batches of ``max_batch_size``) is BasicSweeper's. The same command after a
    killed sweep continues that sweep (sweeps/continue_sweep.py)."""

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None
        assert self.hydra_context is not None
        check_sweep_values(self.config)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([*sweep_params(self), *arguments])
        self.overrides = self.split_arguments(overrides, self.max_batch_size)
        stop_unless_slurm_answers(self.config)
        jobs = [job for batch in self.overrides for job in batch]
        previous = continue_sweep.unfinished_sweep(self.config, jobs)
        done: set[int] = set()
        if previous is not None:
            folder, done = previous
            continue_sweep.continue_in(self.config, folder)
            continue_sweep.announce(folder, done, len(jobs))
        sweep_dir = make_sweep_folder(self.config)

        returns, failed, job_idx = [], [], 0
        try:
            while not self.is_done():
                batch = self.get_job_batch()
                self.validate_batch_is_legal(batch)
                for first, run in continue_sweep.pending_runs(job_idx, batch, done):
                    # a continued sweep's half-done jobs start over; any other existing job
                    # folder is a requeued job's, which resumes there
                    if previous is not None:
                        for num in range(first, first + len(run)):
                            continue_sweep.set_aside(sweep_dir / str(num))
                    results = self.launcher.launch(run, initial_job_idx=first)
                    failed += failed_jobs(results, first)
                    returns.append(results)
                job_idx += len(batch)
        finally:
            write_report_at_end(sweep_dir, self.config.get("optimized_metric"))
        if failed:
            logs = ", ".join(
                str(job_log(sweep_dir / str(job)) or sweep_dir / str(job)) for job in failed
            )
            raise SystemExit(
                f"{len(failed)} of {job_idx} jobs failed (jobs {', '.join(map(str, failed))}); "
                f"their logs: {logs}; the report: {sweep_dir}/summary.md"
            )
        return returns


def check_sweep_values(config: Any) -> None:
    """Values the grid itself is made from (``seeds`` of the ablations' ``range(0,${seeds})``):
    a bad one would make a wrong or empty grid, not a failed job, so it ends the sweep before
    any job starts, as one line with exit status 2."""
    from alexnet_lightning.config_checks import check_value
    from alexnet_lightning.errors import ConfigError

    if config.get("seeds") is None:
        return
    try:
        check_value("seeds", config.seeds)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def failed_jobs(results: Sequence[JobReturn], first_job: int) -> list[int]:
    """The job numbers of a launched batch that did not complete."""
    return [first_job + i for i, r in enumerate(results) if r.status != JobStatus.COMPLETED]
