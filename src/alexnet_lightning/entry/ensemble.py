"""``scripts/eval.py ckpt_path=[a,b,...]`` or ``sweep=<folder>``: an ensemble's test accuracy
beside each member's, centre crop and (tta=ten_crop) the paper's ten views."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from alexnet_lightning.checkpoints import check_fits, load_classifier
from alexnet_lightning.errors import CheckpointError, ConfigError
from alexnet_lightning.models.ensemble import EnsembleClassifier
from alexnet_lightning.sweeps.jobs import job_dirs, job_overrides
from alexnet_lightning.utils.instantiate import instantiate_loggers, instantiate_trainer
from alexnet_lightning.utils.run_files import log_hyperparameters, to_floats

log = logging.getLogger(__name__)


def sweep_checkpoints(sweep: str | Path, arm: str | None = None) -> list[Path]:
    """Every job's best.ckpt in a multirun folder (with ``arm``, only that arm's jobs); a job
    without one (failed, still running) is left out with a warning."""
    folder = Path(sweep).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"sweep={folder} is not a folder; pass sweep=logs/train/multiruns/<stamp>"
        )
    found = []
    for job in job_dirs(folder):
        if arm is not None and not any(_is_arm(o, arm) for o in job_overrides(job)):
            continue
        best = job / "checkpoints" / "best.ckpt"
        if best.is_file():
            found.append(best)
        else:
            log.warning("job %s has no checkpoints/best.ckpt; left out of the ensemble", job)
    if not found:
        which = f" of arm {arm}" if arm else ""
        raise CheckpointError(f"no job{which} in {folder} has a checkpoints/best.ckpt")
    return found


def _is_arm(override: str, arm: str) -> bool:
    key, _, value = override.partition("=")
    return key.lstrip("+~") == "arm" and value == arm


def checkpoint_paths(cfg: DictConfig) -> list[str]:
    """The checkpoints ``cfg`` names: ``ckpt_path`` (one or a list) or ``sweep``'s jobs."""
    if cfg.get("sweep"):
        return [str(p) for p in sweep_checkpoints(cfg.sweep, cfg.get("sweep_arm"))]
    paths = cfg.ckpt_path
    return [str(paths)] if isinstance(paths, str) else [str(p) for p in paths]


def check_agree(paths: list[str], settings: list[dict[str, Any]]) -> None:
    """Members must share classes and input settings: one line naming the two that differ."""
    first = settings[0]
    for path, other in zip(paths[1:], settings[1:], strict=True):
        for key in first:
            if first[key] != other.get(key):
                raise CheckpointError(
                    f"{paths[0]} and {path} disagree on {key} ({first[key]} vs {other.get(key)}); "
                    "an ensemble needs networks trained on the same classes and input settings"
                )


def ensemble_metrics(
    cfg: DictConfig, paths: list[str], input_settings: tuple[str, ...], classes: int
) -> dict[str, float]:
    """Test every checkpoint of ``paths`` and their mean softmax; the members' mean too."""
    members, settings = [], []
    for path in paths:
        model, data = load_classifier(path)
        members.append(model)
        inputs = {k: data.get(k) for k in input_settings}
        names = model.hparams.class_names
        settings.append({"classes": names or model.num_classes, **inputs})
    check_agree(paths, settings)
    for model, path in zip(members, paths, strict=True):
        check_fits(model, classes, path)
    inputs = {k: v for k, v in settings[0].items() if k != "classes" and v is not None}
    ensemble = EnsembleClassifier(members)
    trainer = instantiate_trainer(
        cfg.trainer, callbacks=[], logger=instantiate_loggers(cfg.get("logger"))
    )
    log_hyperparameters(trainer.loggers, cfg)
    metrics: dict[str, float] = {}
    views = ["center"] + (["ten_crop"] if cfg.tta == "ten_crop" else [])
    for view in views:
        datamodule = instantiate(cfg.data, test_split=cfg.split, test_views=view, **inputs)
        trainer.test(ensemble, datamodule=datamodule, verbose=False)
        suffix = "_ten_crop" if view == "ten_crop" else ""
        for key, value in to_floats(trainer.callback_metrics).items():
            metrics[f"{key}{suffix}"] = value
    for stat in ("acc", "acc_top5"):
        for suffix in ("", "_ten_crop") if len(views) == 2 else ("",):
            values = [metrics[f"test/member{i}/{stat}{suffix}"] for i in range(len(paths))]
            metrics[f"test/member_mean/{stat}{suffix}"] = sum(values) / len(values)
    for index, path in enumerate(paths):
        log.info("member%d: %s", index, path)
    return metrics
