"""Training entry point: config in, run folder and metrics out; scripts and tests call it."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

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
from alexnet_lightning.config_checks import check_config
from alexnet_lightning.entry.ddp_hydra import use_run_folder_of_rank_zero
from alexnet_lightning.errors import ConfigError, TrainingDiverged
from alexnet_lightning.sweeps.study import pruning_callback
from alexnet_lightning.utils.instantiate import instantiate_callbacks, instantiate_loggers
from alexnet_lightning.utils.run_files import (
    log_hyperparameters,
    print_config_tree,
    to_floats,
    write_json,
)

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
    """
    check_config(cfg)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # Left by an earlier DDP job of a sweep running in this same process: Lightning keeps
        # the process group, whose other ranks have exited, and the next job would hang.
        raise ConfigError(
            "DDP runs one job per process: a sequential sweep (the basic launcher) can run only "
            "its first trainer=ddp* job; sweep DDP jobs with hydra/launcher=slurm "
            "(one task per GPU), which starts each job in new processes"
        )
    output_dir = Path(cfg.paths.output_dir)
    _resolve_ckpt_path(cfg, output_dir)
    print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    requeued = requeued_checkpoint(output_dir)
    if requeued and not cfg.get("ckpt_path"):
        log.info("requeued by SLURM: resuming from %s", requeued)
        with open_dict(cfg):
            cfg.ckpt_path = str(requeued)
    resume_from = None
    if cfg.get("ckpt_path"):
        # a bad path or file fails now, not after the data is loaded
        resume_from = read_checkpoint(cfg.ckpt_path, mmap=True)
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
    if resume_from is not None:
        check_resumable(
            resume_from, OmegaConf.to_container(cfg.model.net, resolve=True), cfg.ckpt_path
        )
        del resume_from  # the trainer reads the file again; do not hold two copies
        _record_resume(output_dir, cfg.ckpt_path)
    use_run_folder_of_rank_zero()
    callbacks = instantiate_callbacks(cfg.get("callbacks"))
    pruning = pruning_callback(cfg)  # only in an Optuna sweeper's trial
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=[*callbacks, pruning] if pruning else callbacks,
        logger=instantiate_loggers(cfg.get("logger")),
    )
    _scale_lr(cfg, trainer.world_size)
    model = instantiate(cfg.model, class_names=info.names)
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
        except SIGTERMException:
            log.warning("stopped by a signal; run folder: %s", output_dir)
            raise SystemExit(PREEMPTED_EXIT) from None
        if pruning:
            pruning.check_pruned()  # under DDP the pruned flag arrives through the storage
        metrics.update(to_floats(trainer.callback_metrics))
        if "val/acc_best" not in metrics and model.best_val_acc() is not None:
            # resumed from a checkpoint of the run's last epoch (a job requeued after it
            # finished training): nothing ran, nothing was logged, the best came with the file
            metrics["val/acc_best"] = model.best_val_acc()
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


def _resolve_ckpt_path(cfg: DictConfig, output_dir: Path) -> None:
    """``ckpt_path=last`` -> the newest last.ckpt of an earlier run of the same experiment."""
    if cfg.get("ckpt_path") != "last":
        return
    experiment = (
        HydraConfig.get().runtime.choices.get("experiment") if HydraConfig.initialized() else None
    )
    task_dir = Path(cfg.paths.log_dir) / cfg.task_name
    found = find_last_checkpoint(task_dir, experiment, exclude=output_dir)
    log.info("ckpt_path=last: resuming from %s", found)
    with open_dict(cfg):
        cfg.ckpt_path = str(found)


@rank_zero_only
def _record_resume(output_dir: Path, ckpt_path: str) -> None:
    """The new run folder says which checkpoint it continued."""
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "resumed_from.txt").write_text(f"{Path(ckpt_path).resolve()}\n")


def _scale_lr(cfg: DictConfig, world_size: int) -> None:
    """Linear scaling rule (Goyal et al. 2017), opt-in: lr grows with the global batch."""
    if not cfg.get("scale_lr", False):
        return
    global_batch = cfg.data.batch_size * world_size
    with open_dict(cfg):
        base = cfg.model.optimizer.lr
        cfg.model.optimizer.lr = base * global_batch / cfg.lr_reference_batch
    log.info(
        "scale_lr: lr %g x global batch %d / %d = %g",
        base,
        global_batch,
        cfg.lr_reference_batch,
        cfg.model.optimizer.lr,
    )


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
