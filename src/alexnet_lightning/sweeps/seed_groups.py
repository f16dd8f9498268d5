"""Jobs of a sweep that differ only in ``seed``, as groups: their mean and deviation, and for an
ablation's arms (conf/arm/*.yaml) the difference from the baseline arm."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from alexnet_lightning.metrics import tags
from alexnet_lightning.sweeps.curves import Curve, first_epoch_below, read_curves, value_at

# The report's columns and the per-epoch scalars it plots and counts epochs with.
METRICS = tags(report=True)
CURVE_TAGS = tags(curve=True)
# Figure 1's target; experiment=figure1 may set another (figure1.target_error).
TARGET_ERROR = 0.25


@dataclass
class SeedGroup:
    """Jobs whose overrides are the same but for ``seed``."""

    label: str  # their overrides but seed and those every job of the sweep has
    rows: list[dict] = field(default_factory=list)  # their summary.csv rows, in job order
    configs: list[DictConfig] = field(default_factory=list)  # their composed configs
    curves: list[dict[str, Curve]] = field(default_factory=list)  # their learning curves

    @property
    def config(self) -> DictConfig:
        return self.configs[0]

    def arm(self) -> tuple[str, str, str] | None:
        """(ablation, role, label) of a group made by an arm of conf/arm/, else None."""
        arm = self.config.get("arm")
        return (arm.ablation, arm.role, arm.label) if arm else None

    def setting(self, key: str) -> Any:
        """A config value of the group's jobs (resolved: figure1's lr follows the activation)."""
        return OmegaConf.select(self.config, key, default=None)

    def values(self, metric: str) -> list[float]:
        """The metric of each complete job that has it."""
        values = (_number(r[metric]) for r in self.rows if r["state"] == "complete")
        return [v for v in values if v is not None]

    def epochs_to(self, target: float) -> list[int | None]:
        """Per job, the first epoch with train/error below ``target`` (None: not reached)."""
        return [first_epoch_below(c.get("train/error", []), target) for c in self.curves]

    def seconds_to(self, target: float) -> list[float | None]:
        """Per job, train/time_s at that epoch (None: not reached, or no train_time callback)."""
        out = []
        for curves, epoch in zip(self.curves, self.epochs_to(target), strict=True):
            out.append(None if epoch is None else value_at(curves.get("train/time_s", []), epoch))
        return out


def common_overrides(rows: list[dict]) -> list[str]:
    """The overrides every job of the sweep has (the command line's fixed ones)."""
    per_job = [r["overrides"].split() for r in rows]
    return [o for o in per_job[0] if all(o in job for job in per_job)] if per_job else []


def seed_groups(sweep_dir: Path, rows: list[dict]) -> list[SeedGroup]:
    """The sweep's jobs grouped by their overrides without ``seed``, in order of first job;
    a group's label leaves out the overrides all jobs share."""
    common = set(common_overrides(rows))
    groups: dict[str, SeedGroup] = {}
    for row in rows:
        job = sweep_dir / row["job"]
        label = " ".join(
            o for o in row["overrides"].split() if _key(o) != "seed" and o not in common
        )
        group = groups.setdefault(label, SeedGroup(label))
        group.rows.append(row)
        group.configs.append(_job_config(job))
        group.curves.append(read_curves(job, CURVE_TAGS))
    return list(groups.values())


def varies_in_seed(groups: list[SeedGroup]) -> bool:
    """Whether the sweep ran some setting under more than one seed (an Optuna trial run again
    after a killed sweep repeats its overrides, seed included: that is no seed group)."""
    return any(len({_seed(r) for r in g.rows}) > 1 for g in groups)


def _seed(row: dict) -> str | None:
    return next((o for o in row["overrides"].split() if _key(o) == "seed"), None)


def baseline_of(group: SeedGroup, groups: list[SeedGroup]) -> SeedGroup | None:
    """The baseline arm of ``group``'s ablation run with the same other overrides."""
    arm = group.arm()
    if arm is None or arm[1] == "baseline":
        return None
    context = without_arm(group.label)
    return next(
        (
            g
            for g in groups
            if (a := g.arm()) and a[:2] == (arm[0], "baseline") and without_arm(g.label) == context
        ),
        None,
    )


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (n - 1); the deviation of one value is None."""
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def mean_std_text(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    """The values' mean and deviation, times ``scale``, as "mean ± std" ("-" for no values,
    the mean alone for one)."""
    mean, std = mean_std(values)
    if mean is None:
        return "-"
    text = f"{scale * mean:.{digits}f}"
    return text if std is None else f"{text} ± {scale * std:.{digits}f}"


def without_arm(label: str) -> str:
    """A group's overrides but its arm: what it shares with its baseline."""
    return " ".join(o for o in label.split() if _key(o) != "arm")


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _job_config(job_dir: Path) -> DictConfig:
    """The job's composed config (.hydra/config.yaml; empty for a job killed before Hydra wrote
    it). Interpolations between its own keys resolve (figure1's lr follows the activation)."""
    path = job_dir / ".hydra" / "config.yaml"
    return OmegaConf.load(path) if path.is_file() else OmegaConf.create()
