"""summary.csv for a Hydra multirun: one row per job, written when the sweep ends.

A Hydra callback rather than code in train(): only Hydra knows the sweep folder and when the
last job has finished, and on_job_end runs inside each job's process whatever the launcher,
so per-job facts are written beside the job and collected at the end.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

JOB_FILE = "job.json"
COLUMNS = (
    "job",
    "overrides",
    "state",
    "optimized_metric",
    "val/acc_best",
    "test/acc",
    "epochs",
    "wall_s",
    "best_ckpt",
)


class SweepSummary(Callback):
    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._started = time.time()

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if HydraConfig.get().mode.name != "MULTIRUN":
            return
        output_dir = Path(HydraConfig.get().runtime.output_dir)
        state = "complete" if job_return.status == JobStatus.COMPLETED else "failed"
        record = {"state": state, "wall_s": round(time.time() - self._started, 1)}
        (output_dir / JOB_FILE).write_text(json.dumps(record) + "\n")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.is_dir():
            write_summary(sweep_dir, config.get("optimized_metric"))


def _job_row(job_dir: Path, metric_name: str | None) -> dict[str, Any]:
    overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    job = json.loads((job_dir / JOB_FILE).read_text()) if (job_dir / JOB_FILE).is_file() else {}
    metrics_file = job_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    best = job_dir / "checkpoints" / "best.ckpt"
    last = job_dir / "checkpoints" / "last.ckpt"
    epochs = ""
    if last.is_file():
        epochs = torch.load(last, map_location="cpu", weights_only=True, mmap=True)["epoch"] + 1
    return {
        "job": job_dir.name,
        "overrides": " ".join(overrides),
        "state": job.get("state", "complete" if metrics else "failed"),
        "optimized_metric": metrics.get(metric_name, "") if metric_name else "",
        "val/acc_best": metrics.get("val/acc_best", ""),
        "test/acc": metrics.get("test/acc", ""),
        "epochs": epochs,
        "wall_s": job.get("wall_s", ""),
        "best_ckpt": str(best) if best.is_file() else "",
    }


def write_summary(sweep_dir: Path, metric_name: str | None = "val/acc_best") -> Path:
    """Collect every job folder of a sweep into ``summary.csv``; also usable after the fact."""
    jobs = sorted(
        (p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()),
        key=lambda p: int(p.name) if p.name.isdigit() else p.name,
    )
    path = sweep_dir / "summary.csv"
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        for job_dir in jobs:
            writer.writerow(_job_row(job_dir, metric_name))
    return path
