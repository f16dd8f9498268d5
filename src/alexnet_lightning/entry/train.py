"""Training entry point: config in, run folder and metrics out; scripts and tests call it."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import optuna
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf, open_dict

from alexnet_lightning.checkpoints import (
    check_resumable,
    find_last_checkpoint,
    read_checkpoint,
    requeued_checkpoint,
)
from alexnet_lightning.entry.ddp_hydra import use_run_folder_of_rank_zero
from alexnet_lightning.entry.network import check_network, net_errors
from alexnet_lightning.errors import ConfigError, TrainingDiverged
from alexnet_lightning.sweeps.study import pruning_callback
from alexnet_lightning.utils.instantiate import (
    instantiate_callbacks,
    instantiate_loggers,
    instantiate_trainer,
)
from alexnet_lightning.utils.run_files import (
    hparams_session_end,
    log_hyperparameters,
    print_config_tree,
    to_floats,
    write_json,
)
from alexnet_lightning.utils.scalar_layout import write_scalar_layout

log = logging.getLogger(__name__)

# Exit status of a run stopped by SIGTERM/SIGUSR1 after saving last.ckpt (128 + SIGTERM).
PREEMPTED_EXIT = 143

# Our DataModule resumes the data order itself (ResumableShuffleSampler), so Lightning's
# warning that a plain DataLoader cannot resume mid-epoch does not apply.
warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit (and test with the best checkpoint) as the config says; return the final metrics.

    Writes config_tree.log, checkpoints/, tensorboard/ and metrics.json into
    ``cfg.paths.output_dir`` (rank 0 only, under DDP), and resumed_from.txt when resuming.
    The config is checked by the caller (entry.cli.run_task, before the heavy imports).
    """
    _refuse_a_second_ddp_job()
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = _checkpoint_to_resume(cfg, output_dir)
    # mapped, not read: only the metadata is checked; the trainer reads the file again
    resumed = read_checkpoint(ckpt_path, mmap=True) if ckpt_path else None
    print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    # before the data (reading or packing it takes minutes) and the seed (whatever it draws)
    check_network(cfg.model.net)
    if cfg.get("seed") is not None:  # seed 0 is a seed
        L.seed_everything(cfg.seed, workers=True)
    # Lightning checks its own flags (precision, accelerator, devices) as it builds the trainer
    trainer, pruning = _build_trainer(cfg)
    datamodule, info = _checked_data(cfg)
    _record_settled_values(cfg, num_classes=len(info.classes), world_size=trainer.world_size)
    if ckpt_path:
        _check_resume(cfg, resumed, ckpt_path, output_dir)
    with net_errors(cfg.model.net):
        model = instantiate(cfg.model, class_names=info.names)
    log_hyperparameters(trainer.loggers, cfg)
    write_scalar_layout(trainer.loggers)

    metrics: dict[str, float] = {}
    with hparams_session_end(trainer.loggers, resumable_exit=PREEMPTED_EXIT):
        if cfg.get("train", True):
            metrics |= _fit(trainer, model, datamodule, ckpt_path, pruning, output_dir)
        if cfg.get("test", False):
            metrics |= _test(trainer, model, datamodule, ckpt_path, trained=cfg.get("train", True))
        write_json(output_dir / "metrics.json", metrics)
    return metrics


def _refuse_a_second_ddp_job() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # Left by an earlier DDP job of a sweep running in this same process: Lightning keeps
        # the process group, whose other ranks have exited, and the next job would hang.
        raise ConfigError(
            "DDP runs one job per process: a sequential sweep (the basic launcher) can run only "
            "its first trainer=ddp* job; sweep DDP jobs with hydra/launcher=slurm "
            "(one task per GPU), which starts each job in new processes"
        )


def _checkpoint_to_resume(cfg: DictConfig, output_dir: Path) -> str | None:
    """The checkpoint this run continues, if any: ``ckpt_path=last`` (the newest last.ckpt of an
    earlier run of the same experiment), an explicit ``ckpt_path``, or this job's own last.ckpt
    when SLURM requeued it."""
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path == "last":
        experiment = (
            HydraConfig.get().runtime.choices.get("experiment")
            if HydraConfig.initialized()
            else None
        )
        task_dir = Path(cfg.paths.log_dir) / cfg.task_name
        ckpt_path = str(find_last_checkpoint(task_dir, experiment, exclude=output_dir))
        log.info("ckpt_path=last: resuming from %s", ckpt_path)
    elif not ckpt_path and (requeued := requeued_checkpoint(output_dir)):
        ckpt_path = str(requeued)
        log.info("requeued by SLURM: resuming from %s", ckpt_path)
    return ckpt_path or None


def _checked_data(cfg: DictConfig) -> tuple[L.LightningDataModule, Any]:
    """The DataModule and what it found (classes, split sizes), checked before the model or
    trainer exist."""
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    info = datamodule.inspect()
    log.info(
        "dataset %s: %d classes, split sizes %s", info.root, len(info.classes), info.split_sizes
    )
    return datamodule, info


def _build_trainer(cfg: DictConfig) -> tuple[L.Trainer, Any]:
    """The Trainer with the configured callbacks and loggers, plus the Optuna pruning callback
    when this job is a trial of the Optuna sweeper (else None)."""
    use_run_folder_of_rank_zero()
    callbacks = instantiate_callbacks(cfg.get("callbacks"))
    pruning = pruning_callback(cfg)
    trainer = instantiate_trainer(
        cfg.trainer,
        callbacks=[*callbacks, pruning] if pruning else callbacks,
        logger=instantiate_loggers(cfg.get("logger")),
    )
    return trainer, pruning


def _record_settled_values(cfg: DictConfig, num_classes: int, world_size: int) -> None:
    """The one place train() writes into ``cfg``: values known only once the data and the
    trainer exist. They go into the config, not beside it, because the model is built from
    ``cfg.model`` (whose ``net.num_classes`` is ``${data.num_classes}``), and the logged
    hyperparameters and the checkpoint's hparams must show the values the run used.

    - ``data.num_classes: null`` -> the count found in the dataset (its manifest or folders);
    - ``scale_lr=true`` -> the linear scaling rule (Goyal et al. 2017): lr x global batch /
      ``lr_reference_batch``.
    """
    with open_dict(cfg):
        if cfg.data.get("num_classes") is None:
            cfg.data.num_classes = num_classes
        if cfg.get("scale_lr", False):
            base = cfg.model.optimizer.lr
            cfg.model.optimizer.lr = scaled_lr(
                base, cfg.data.batch_size * world_size, cfg.lr_reference_batch
            )
            log.info(
                "scale_lr: lr %g x global batch %d / %d = %g",
                base,
                cfg.data.batch_size * world_size,
                cfg.lr_reference_batch,
                cfg.model.optimizer.lr,
            )


def scaled_lr(lr: float, global_batch: int, reference_batch: int) -> float:
    """Linear scaling rule (Goyal et al. 2017): lr grows with the global batch."""
    return lr * global_batch / reference_batch


def _check_resume(
    cfg: DictConfig, checkpoint: dict[str, Any], ckpt_path: str, output_dir: Path
) -> None:
    """The checkpoint's network must be this config's; the run folder records what it resumed."""
    net = OmegaConf.to_container(cfg.model.net, resolve=True)
    check_resumable(checkpoint, net, ckpt_path)
    _record_resume(output_dir, ckpt_path)


@rank_zero_only
def _record_resume(output_dir: Path, ckpt_path: str) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "resumed_from.txt").write_text(f"{Path(ckpt_path).resolve()}\n")


def _fit(
    trainer: L.Trainer,
    model: L.LightningModule,
    datamodule: L.LightningDataModule,
    ckpt_path: str | None,
    pruning: Any,
    output_dir: Path,
) -> dict[str, float]:
    """trainer.fit, with its three ways of stopping early told in the project's terms."""
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    except TrainingDiverged as err:
        last = _newest_checkpoint(trainer)
        raise TrainingDiverged(f"{err}. Last good checkpoint: {last or 'none saved yet'}") from None
    except optuna.TrialPruned:
        # the metrics so far still go in the sweep report; Lightning's checkpoint callbacks
        # run after ours, so no last.ckpt tells how many epochs ran: "epoch" (0-based, as
        # Lightning logs it) does
        so_far = to_floats(trainer.callback_metrics) | {"epoch": trainer.current_epoch}
        write_json(output_dir / "metrics.json", so_far)
        raise
    except SIGTERMException:
        log.warning("stopped by a signal; run folder: %s", output_dir)
        raise SystemExit(PREEMPTED_EXIT) from None
    if pruning:
        pruning.check_pruned()  # under DDP the pruned flag arrives through the storage
    metrics = to_floats(trainer.callback_metrics)
    if "val/acc_best" not in metrics and model.best_val_acc() is not None:
        # resumed from a checkpoint of the run's last epoch (a job requeued after it
        # finished training): nothing ran, nothing was logged, the best came with the file
        metrics["val/acc_best"] = model.best_val_acc()
    return metrics


def _test(
    trainer: L.Trainer,
    model: L.LightningModule,
    datamodule: L.LightningDataModule,
    ckpt_path: str | None,
    trained: bool,
) -> dict[str, float]:
    """trainer.test with best.ckpt; without training, the resumed checkpoint's weights."""
    ckpt = _best_checkpoint(trainer) or (None if trained else ckpt_path)
    log.info("testing with %s", ckpt or "the final weights")
    trainer.test(model, datamodule=datamodule, ckpt_path=ckpt)
    return to_floats(trainer.callback_metrics)


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
