"""Which checkpoint a run continues: ``ckpt_path=last``, or its own after a SLURM requeue."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

from alexnet_lightning.errors import CheckpointError


def _experiment_of(run: Path) -> str | None:
    """The experiment a run folder was started with, from Hydra's record of its choices."""
    hydra_yaml = run / ".hydra" / "hydra.yaml"
    if not hydra_yaml.is_file():
        return None
    try:
        choices = OmegaConf.load(hydra_yaml).hydra.runtime.choices
    except Exception:  # an unreadable record just makes the folder a non-candidate
        return None
    return str(choices.get("experiment"))


def find_last_checkpoint(task_dir: Path, experiment: str | None, exclude: Path) -> Path:
    """Newest (by modification time) ``checkpoints/last.ckpt`` under ``task_dir``'s runs and
    multirun jobs whose experiment is ``experiment``; ``exclude`` is this run's own folder."""
    candidates = [
        ckpt
        for pattern in ("runs/*/checkpoints/last.ckpt", "multiruns/*/*/checkpoints/last.ckpt")
        for ckpt in task_dir.glob(pattern)
        if ckpt.parents[1].resolve() != exclude.resolve()
        and _experiment_of(ckpt.parents[1]) == str(experiment)
    ]
    if not candidates:
        raise CheckpointError(
            f"ckpt_path=last: no checkpoints/last.ckpt of experiment={experiment} under "
            f"{task_dir}; start a fresh run (ckpt_path=null) or pass the checkpoint's path"
        )
    return max(candidates, key=lambda p: p.stat().st_mtime)


def requeued_checkpoint(output_dir: Path) -> Path | None:
    """last.ckpt of this job folder when SLURM restarted the job (preemption or time limit,
    requeued by submitit into the same folder), so it continues instead of starting over."""
    last = output_dir / "checkpoints" / "last.ckpt"
    restarted = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0
    return last if restarted and last.is_file() else None
