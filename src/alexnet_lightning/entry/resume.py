"""``ckpt_path=last``: the newest last.ckpt of earlier runs of the same experiment."""

from __future__ import annotations

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
