"""Hydra's grid sweeper, but a failed job is recorded and the rest of the grid still runs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from .common import failed_jobs, write_report

log = logging.getLogger(__name__)


class GridSweeper(BasicSweeper):
    """BasicSweeper stops at the first batch with a failed job and skips Hydra's end-of-sweep
    callbacks; this one runs every batch, writes the report, then exits non-zero naming the
    failed jobs."""

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None
        assert self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([*self._parse_config(), *arguments])
        self.overrides = self.split_arguments(overrides, self.max_batch_size)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        returns, failed, job_idx = [], [], 0
        try:
            while not self.is_done():
                batch = self.get_job_batch()
                self.validate_batch_is_legal(batch)
                results = self.launcher.launch(batch, initial_job_idx=job_idx)
                failed += failed_jobs(results, job_idx)
                job_idx += len(batch)
                returns.append(results)
        finally:
            write_report(sweep_dir, self.config.get("optimized_metric"))
        if failed:
            raise SystemExit(
                f"{len(failed)} of {job_idx} jobs failed (jobs {', '.join(map(str, failed))}); "
                f"their logs are in {sweep_dir}/<job>/, the report in {sweep_dir}/summary.md"
            )
        return returns
