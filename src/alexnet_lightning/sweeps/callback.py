"""The Hydra callback that has every job of a multirun write its record (job.json).

A callback rather than code in train(): on_job_end runs inside each job's process whatever the
launcher (in-process, joblib, submitit, SLURM), so the record lies beside the job even when the
sweep process is killed; the sweeper reads these records into the report when the sweep ends.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from alexnet_lightning.sweeps.jobs import job_outcome, write_job_record


class JobRecordCallback(Callback):
    """Writes ``<job>/job.json`` (state, start time, wall time) when a multirun job ends."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._started = time.time()

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if HydraConfig.get().mode.name != "MULTIRUN":
            return
        state, _ = job_outcome(job_return)
        write_job_record(
            Path(HydraConfig.get().runtime.output_dir),
            state=state,
            started=self._started,
            wall_s=round(time.time() - self._started, 1),
        )
