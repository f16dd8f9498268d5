"""What both sweepers do after their jobs: record each job's state and write the sweep report."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from hydra.core.utils import JobReturn, JobStatus

log = logging.getLogger(__name__)


def job_dir(result: JobReturn) -> Path | None:
    if result.hydra_cfg is None:
        return None
    return Path(result.hydra_cfg.hydra.runtime.output_dir)


def record_state(result: JobReturn, state: str, **extra: object) -> None:
    """Overwrite the state the job wrote for itself (job.json) with the sweeper's verdict."""
    folder = job_dir(result)
    if folder is not None:
        write_state(folder, state, **extra)


def write_state(folder: Path, state: str, **extra: object) -> None:
    if not folder.is_dir():
        return
    path = folder / "job.json"
    record = json.loads(path.read_text()) if path.is_file() else {}
    record.update(state=state, **extra)
    path.write_text(json.dumps(record) + "\n")


def write_report(sweep_dir: Path, metric: str | None, direction: str = "maximize") -> None:
    """The sweep report; a failure here is logged, never allowed to hide the sweep's outcome."""
    from alexnet_lightning.sweep_report import write_report as write  # matplotlib: import late

    try:
        paths = write(sweep_dir, metric, direction)
        log.info("sweep report: %s", ", ".join(str(p) for p in paths))
    except Exception:
        log.exception("could not write the sweep report in %s", sweep_dir)


def failed_jobs(results: Sequence[JobReturn], first_job: int) -> list[int]:
    return [first_job + i for i, r in enumerate(results) if r.status != JobStatus.COMPLETED]
