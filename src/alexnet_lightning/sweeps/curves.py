"""A job's learning curves, one value per epoch, read back from its TensorBoard event files."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

# The epoch (counted from 1) at the step of its training metrics (utils/tensorboard_logger.py);
# runs of earlier versions have Lightning's own, 0-based, beside every stage's metrics.
EPOCH_TAG = "train/epoch"
LIGHTNING_EPOCH_TAG = "epoch"

Curve = list[tuple[int, float]]  # (epochs trained when logged, value)


def read_curves(job_dir: Path, tags: Iterable[str]) -> dict[str, Curve]:
    """``{tag: [(epoch, value), ...]}`` for each of ``tags`` the job logged, epochs counted
    from 1. A step logged twice (a requeued job that replayed an epoch) keeps its newest value.
    Jobs without TensorBoard events (logger=csv) give {}."""
    # tensorboard/<run name>/ (tensorboard/ itself in run folders of earlier versions)
    files = sorted((job_dir / "tensorboard").rglob("events.out.tfevents.*"))
    if not files:
        return {}
    # imported here: tensorboard takes a second, and only reports with curves need it
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    by_step: dict[str, dict[int, tuple[float, float]]] = {}
    epoch_at: dict[int, int] = {}
    for path in files:  # one file at a time: a folder's watcher logs each file it moves to
        accumulator = EventAccumulator(str(path), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in {*tags, EPOCH_TAG, LIGHTNING_EPOCH_TAG} & set(accumulator.Tags()["scalars"]):
            seen = by_step.setdefault(tag, {})
            for event in accumulator.Scalars(tag):
                if event.step not in seen or seen[event.step][0] <= event.wall_time:
                    seen[event.step] = (event.wall_time, event.value)
                if tag in (EPOCH_TAG, LIGHTNING_EPOCH_TAG):
                    epoch = int(event.value) + (tag == LIGHTNING_EPOCH_TAG)
                    # the training epoch's: a later stage's may share its step
                    epoch_at[event.step] = min(epoch_at.get(event.step, epoch), epoch)
    by_step.pop(EPOCH_TAG, None)
    by_step.pop(LIGHTNING_EPOCH_TAG, None)
    return {
        tag: [
            (epoch_at.get(step, index + 1), value)
            for index, (step, (_, value)) in enumerate(sorted(points.items()))
        ]
        for tag, points in by_step.items()
    }


def first_epoch_below(curve: Curve, threshold: float) -> int | None:
    """The first epoch whose value is below ``threshold`` (None if none is)."""
    return next((epoch for epoch, value in curve if value < threshold), None)


def value_at(curve: Curve, epoch: int) -> float | None:
    """The curve's value at ``epoch`` (None if it has none there)."""
    return next((v for e, v in curve if e == epoch and math.isfinite(v)), None)
