"""What every dataset build (ImageNet subset, pack, photo-like JPEGs) does the same way: claim
its destination folder, and run its jobs in worker processes behind one progress bar."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from alexnet_lightning.errors import DataError
from alexnet_lightning.files import write_json

Result = TypeVar("Result")


def refuse_overlap(src: Path, dst: Path) -> None:
    """DST inside SRC would add files to the source; SRC inside DST could be pruned away."""
    if dst == src or dst.is_relative_to(src):
        raise DataError(f"--dest {dst} is inside --source {src}; pick a folder outside it")
    if src.is_relative_to(dst):
        raise DataError(f"--source {src} is inside --dest {dst}; pick a separate --dest")


def claim_dest(dst: Path, marker_name: str, options: dict[str, Any]) -> bool:
    """Make ``dst`` this build's folder, marked by ``marker_name`` holding ``options`` (what
    decides the files' content). Refuses a folder that is neither empty nor an earlier build
    of this tool, and an earlier build made with other options (its files would mix both).
    Returns True when ``dst`` already was a build with these options (to finish or keep)."""
    marker = dst / marker_name
    if marker.is_file():
        try:
            previous = json.loads(marker.read_text(encoding="utf-8"))
        except ValueError:
            previous = None
        if previous != options:
            raise DataError(
                f"{dst} was built with {previous}, not {options}; its files would mix both. "
                "Use another --dest or delete that folder"
            )
        return True
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise DataError(
            f"--dest {dst} is neither an empty folder nor an earlier build of this tool; "
            "pick a new or empty folder"
        )
    dst.mkdir(parents=True, exist_ok=True)
    write_json(marker, options)
    return False


def run_jobs(
    work: Callable[..., list[Result]],
    jobs: Sequence[tuple[Any, ...]],
    *,
    record: Callable[[tuple[Any, ...], list[Result]], None] | None = None,
    workers: int,
    label: str,
    total: int,
    done: int = 0,
    progress: bool = True,
    initializer: Callable[[], None] | None = None,
) -> None:
    """``record(job, work(*job))`` for each job as it finishes, in ``workers`` processes (in
    this one when there is one worker or one job). Each result holds one entry per item done, which
    advances the bar of ``total`` items, ``done`` of them before these jobs. On an error or
    Ctrl-C the queued jobs are cancelled, not waited for."""
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task(label, total=total, completed=done)
        for job, result in _results(work, jobs, workers, initializer):
            if record is not None:
                record(job, result)
            bar.advance(task, len(result))


def _results(
    work: Callable[..., list[Result]],
    jobs: Sequence[tuple[Any, ...]],
    workers: int,
    initializer: Callable[[], None] | None,
) -> Iterator[tuple[tuple[Any, ...], list[Result]]]:
    if workers <= 1 or len(jobs) <= 1:
        # in this process: its thread count is the caller's, left as it is
        for job in jobs:
            yield job, work(*job)
        return
    pool = ProcessPoolExecutor(max_workers=workers, initializer=initializer)
    try:
        futures = {pool.submit(work, *job): job for job in jobs}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
