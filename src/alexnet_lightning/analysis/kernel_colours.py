"""The paper's Section 6.1 claim as numbers: over a sweep's seeds, how colourful each tower's
first-layer kernels are (``scripts/kernel_colours.py``), and one Figure 3 per group of jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from alexnet_lightning.analysis.kernels import kernel_figure
from alexnet_lightning.checkpoints import load_classifier
from alexnet_lightning.errors import CheckpointError
from alexnet_lightning.sweeps.jobs import job_dirs, job_overrides
from alexnet_lightning.sweeps.seed_groups import mean_std_text
from alexnet_lightning.utils.hparams_session import CURATED


@dataclass
class KernelGroup:
    """The jobs of a sweep that differ only in their seed."""

    label: str
    checkpoints: list[Path] = field(default_factory=list)
    towers: list[list[float]] = field(default_factory=list)  # per job, per tower

    def summary(self) -> str:
        per_tower = zip(*self.towers, strict=True)
        parts = [
            f"tower{i + 1} {mean_std_text(list(values))}" for i, values in enumerate(per_tower)
        ]
        return f"{self.label}: {len(self.towers)} seeds, Lab chroma " + ", ".join(parts)


def _checkpoint(job: Path) -> Path | None:
    for name in ("best.ckpt", "last.ckpt"):
        if (job / "checkpoints" / name).is_file():
            return job / "checkpoints" / name
    return None


def kernel_groups(sweep: Path) -> list[KernelGroup]:
    """Each job's tower colourfulness, grouped by its overrides other than ``seed``."""
    if not sweep.is_dir():
        raise CheckpointError(f"{sweep} is not a folder; pass logs/train/multiruns/<stamp>")
    groups: dict[str, KernelGroup] = {}
    for job in job_dirs(sweep):
        checkpoint = _checkpoint(job)
        if checkpoint is None:
            continue
        label = choices_label(job_overrides(job))
        group = groups.setdefault(label, KernelGroup(f"{sweep.name} {label}"))
        model, _ = load_classifier(checkpoint)
        group.checkpoints.append(checkpoint)
        group.towers.append(kernel_figure(model.net).colourfulness)
    if not groups:
        raise CheckpointError(f"no job in {sweep} has a checkpoint")
    return list(groups.values())


def choices_label(overrides: list[str]) -> str:
    """The overrides a researcher varies (HParams' curated keys) but the seed: data paths and
    checksums given on the command line say nothing about the group and make names too long."""
    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in CURATED]
    return " ".join(o for o in kept if not o.startswith("seed=")) or "all"


def write_group_figure(group: KernelGroup, path: Path) -> Path:
    """Figure 3 of the group's first job (its lowest seed), as a PNG of a few dozen KB."""
    model, _ = load_classifier(group.checkpoints[0])
    job = group.checkpoints[0].parent.parent.name
    figure = kernel_figure(model.net, title=f"{group.label}, job {job}")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(figure.image).save(path, optimize=True)
    return path
