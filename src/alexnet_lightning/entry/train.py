"""Training entry point: config in, run folder and metrics out; scripts and tests call it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import lightning as L
import optuna
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from alexnet_lightning.checkpoints import read_checkpoint
from alexnet_lightning.config_checks import check_config
from alexnet_lightning.errors import TrainingDiverged
from alexnet_lightning.optuna_search import pruning_callback
from alexnet_lightning.utils.instantiate import instantiate_callbacks, instantiate_loggers
from alexnet_lightning.utils.run_files import (
    log_hyperparameters,
    print_config_tree,
    to_floats,
    write_json,
)

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit (and test with the best checkpoint) as the config says; return the final metrics.

    Writes config_tree.log, checkpoints/, tensorboard/ and metrics.json into
    ``cfg.paths.output_dir``.
    """
    check_config(cfg)
    output_dir = Path(cfg.paths.output_dir)
    print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    requeued = _requeued_checkpoint(output_dir)
    if requeued and not cfg.get("ckpt_path"):
        log.info("requeued by SLURM: resuming from %s", requeued)
        with open_dict(cfg):
            cfg.ckpt_path = str(requeued)
    if cfg.get("ckpt_path"):
        read_checkpoint(cfg.ckpt_path)  # a bad path fails now, not after the data is loaded
    if cfg.get("seed") is not None:  # seed 0 is a seed
        L.seed_everything(cfg.seed, workers=True)

    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    info = datamodule.inspect()  # the data is checked before the model or trainer exist
    log.info(
        "dataset %s: %d classes, split sizes %s", info.root, len(info.classes), info.split_sizes
    )
    if cfg.data.get("num_classes") is None:  # taken from the dataset (its manifest or folders)
        with open_dict(cfg):
            cfg.data.num_classes = len(info.classes)
    model = instantiate(cfg.model, class_names=info.names)
    callbacks = instantiate_callbacks(cfg.get("callbacks"))
    pruning = pruning_callback(cfg)  # only in an Optuna sweeper's trial
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=[*callbacks, pruning] if pruning else callbacks,
        logger=instantiate_loggers(cfg.get("logger")),
    )
    log_hyperparameters(trainer.loggers, cfg)

    metrics: dict[str, float] = {}
    if cfg.get("train", True):
        try:
            trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        except TrainingDiverged as err:
            last = _newest_checkpoint(trainer)
            raise TrainingDiverged(
                f"{err}. Last good checkpoint: {last or 'none saved yet'}"
            ) from None
        except optuna.TrialPruned:
            # the metrics so far still go in the sweep report; Lightning's checkpoint callbacks
            # run after ours, so no last.ckpt tells how many epochs ran: "epoch" (0-based, as
            # Lightning logs it) does
            so_far = to_floats(trainer.callback_metrics) | {"epoch": trainer.current_epoch}
            write_json(output_dir / "metrics.json", so_far)
            raise
        if pruning:
            pruning.check_pruned()  # under DDP the pruned flag arrives through the storage
        metrics.update(to_floats(trainer.callback_metrics))
    if cfg.get("test", False):
        ckpt = _best_checkpoint(trainer) or (
            None if cfg.get("train", True) else cfg.get("ckpt_path")
        )
        log.info("testing with %s", ckpt or "the final weights")
        trainer.test(model, datamodule=datamodule, ckpt_path=ckpt)
        metrics.update(to_floats(trainer.callback_metrics))
    metrics.pop("hp_metric", None)
    write_json(output_dir / "metrics.json", metrics)
    return metrics


def _requeued_checkpoint(output_dir: Path) -> Path | None:
    """last.ckpt of this job folder when SLURM restarted the job (preemption or time limit,
    requeued by submitit into the same folder), so it continues instead of starting over."""
    last = output_dir / "checkpoints" / "last.ckpt"
    restarted = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0
    return last if restarted and last.is_file() else None


def _best_checkpoint(trainer: L.Trainer) -> str:
    """best.ckpt of the checkpoint callback that watches a metric, if it saved one."""
    paths = [cb.best_model_path for cb in trainer.checkpoint_callbacks if cb.monitor]
    return next((p for p in paths if p), "")


def _newest_checkpoint(trainer: L.Trainer) -> str:
    saved = [
        p
        for cb in trainer.checkpoint_callbacks
        for p in (cb.best_model_path, cb.last_model_path)
        if p and Path(p).is_file()
    ]
    return max(saved, key=lambda p: Path(p).stat().st_mtime, default="")
