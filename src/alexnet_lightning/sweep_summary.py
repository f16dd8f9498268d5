"""summary.csv for a Hydra multirun: one row per job, written when the sweep ends.

Per-job facts come from a Hydra callback rather than code in train(): on_job_end runs inside
each job's process whatever the launcher, so they are written beside the job (job.json) and
collected by the sweeper at the end (hydra_plugins/alexnet_sweepers), which may overwrite the
state with its own verdict (an Optuna trial that returned NaN is failed).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

# Hydra instantiates this callback when a run starts, before the config is checked: torch,
# Lightning and Optuna are imported inside the functions that need them, so a typo on the
# command line costs a second, not the ten those imports take.

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
        record = {
            "state": _state(job_return),
            "started": self._started,
            "wall_s": round(time.time() - self._started, 1),
        }
        (output_dir / JOB_FILE).write_text(json.dumps(record) + "\n")


def _state(job_return: JobReturn) -> str:
    if job_return.status == JobStatus.COMPLETED:
        return "complete"
    optuna = sys.modules.get("optuna")  # a trial can only be pruned once optuna is imported
    pruned = optuna is not None and isinstance(job_return._return_value, optuna.TrialPruned)
    return "pruned" if pruned else "failed"


def job_overrides(job_dir: Path) -> list[str]:
    """The overrides that make this job, as a user would type them (sweeper plumbing left out)."""
    from alexnet_lightning.optuna_search import TRIAL_KEY

    overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    return [o for o in overrides if not o.startswith(f"{TRIAL_KEY}=")]


def _job_row(job_dir: Path, metric_name: str | None) -> dict[str, Any]:
    overrides = job_overrides(job_dir)
    job = json.loads((job_dir / JOB_FILE).read_text()) if (job_dir / JOB_FILE).is_file() else {}
    metrics_file = job_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    best = job_dir / "checkpoints" / "best.ckpt"
    last = job_dir / "checkpoints" / "last.ckpt"
    epochs = ""
    if last.is_file():
        import torch

        epochs = torch.load(last, map_location="cpu", weights_only=True, mmap=True)["epoch"] + 1
    elif "epoch" in metrics:  # a pruned trial stops before its epoch's checkpoint
        epochs = int(metrics["epoch"]) + 1
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


def job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(
        (p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()),
        key=lambda p: (0, int(p.name), "") if p.name.isdigit() else (1, 0, p.name),
    )


def summary_rows(sweep_dir: Path, metric_name: str | None = "val/acc_best") -> list[dict]:
    """One row per job folder of the sweep, in job order."""
    return [_job_row(job_dir, metric_name) for job_dir in job_dirs(sweep_dir)]


def write_summary(
    sweep_dir: Path, metric_name: str | None = "val/acc_best", rows: list[dict] | None = None
) -> Path:
    """Collect every job folder of a sweep into ``summary.csv``; also usable after the fact."""
    path = sweep_dir / "summary.csv"
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(summary_rows(sweep_dir, metric_name) if rows is None else rows)
    return path
