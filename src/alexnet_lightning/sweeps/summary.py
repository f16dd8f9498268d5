"""summary.csv: one row per job folder of a sweep (its overrides, state, metrics, checkpoint)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from alexnet_lightning.metrics import tags
from alexnet_lightning.sweeps.jobs import job_dirs, job_overrides, read_job_record

SUMMARY_FILE = "summary.csv"
# the metrics: metrics.METRICS' report columns
COLUMNS = ("job", "overrides", "state", "optimized_metric", *tags(report=True))
COLUMNS += ("epochs", "wall_s", "best_ckpt", "log")


def job_row(job_dir: Path, metric_name: str | None) -> dict[str, Any]:
    """One job's row of summary.csv, from what its folder holds."""
    job = read_job_record(job_dir)
    metrics_file = job_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    best = job_dir / "checkpoints" / "best.ckpt"
    last = job_dir / "checkpoints" / "last.ckpt"
    epochs = ""
    if last.is_file():
        # only here: the rest of the report needs neither torch nor Lightning
        from alexnet_lightning.checkpoints import read_checkpoint

        epochs = read_checkpoint(last, mmap=True)["epoch"] + 1
    elif "epoch" in metrics:  # a pruned trial stops before its epoch's checkpoint
        epochs = int(metrics["epoch"]) + 1
    return {
        "job": job_dir.name,
        "overrides": " ".join(job_overrides(job_dir)),
        "state": job.get("state", "complete" if metrics else "failed"),
        "optimized_metric": metrics.get(metric_name, "") if metric_name else "",
        **{tag: metrics.get(tag, "") for tag in tags(report=True)},
        "epochs": epochs,
        "wall_s": job.get("wall_s", ""),
        "best_ckpt": str(best) if best.is_file() else "",
        "log": str(job_log(job_dir) or ""),
    }


def job_log(job_dir: Path) -> Path | None:
    """The job's own log (``<task_name>.log``, written by Hydra), where a failure is told."""
    logs = [p for p in sorted(job_dir.glob("*.log")) if p.name != "config_tree.log"]
    return logs[0] if logs else None


def summary_rows(sweep_dir: Path, metric_name: str | None = "val/acc_best") -> list[dict]:
    """One row per job folder of the sweep, in job order."""
    return [job_row(job_dir, metric_name) for job_dir in job_dirs(sweep_dir)]


def write_summary(
    sweep_dir: Path, metric_name: str | None = "val/acc_best", rows: list[dict] | None = None
) -> Path:
    """Collect every job folder of a sweep into ``summary.csv``; also usable after the fact."""
    path = sweep_dir / SUMMARY_FILE
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(summary_rows(sweep_dir, metric_name) if rows is None else rows)
    return path


def metric_value(row: dict[str, Any]) -> float | None:
    """A row's optimized metric as a number, or None when the job has none (or NaN)."""
    try:
        value = float(row["optimized_metric"])
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
