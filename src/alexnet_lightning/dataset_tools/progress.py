"""The progress bar of the long dataset builds (ImageNet subsets, packing): items done of all."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def count_bar(enabled: bool) -> Progress:
    """Description, bar, done/total, elapsed and remaining time; ``enabled=False`` shows none."""
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, disable=not enabled)
