"""Exact resume: a resumed run continues bitwise where the checkpoint left off.

Each part lives where its state does; this module holds the two callbacks that
``conf/callbacks/resume.yaml`` adds, and the list below is the whole design:
- weights, optimizer, scheduler and loop counters: Lightning's own checkpoint;
- the position in the epoch's data order: ``ImageDataModule.state_dict`` (data/datamodule.py;
  the order and each image's crop are a function of (seed, epoch), data/samplers.py);
- the best val/acc so far: the LightningModule's state_dict (models/classifier.py); a
  mid-epoch checkpoint's running sums of the epoch's train metrics: ``TrainEpochMetricsCheckpoint``;
- every RNG: ``RNGStateCheckpoint``; a checkpoint at a stop signal: ``PreemptionCheckpoint``;
- last.ckpt at every epoch end or every N steps, best.ckpt by val/acc: the ModelCheckpoint
  configs (conf/callbacks/model_checkpoint.yaml); atomic writes: ``AtomicCheckpointIO``
  (checkpoints.py); which checkpoint to resume from (``ckpt_path=last``, a SLURM requeue):
  entry/train.py with ``checkpoints.find_last_checkpoint`` and ``requeued_checkpoint``.
"""

from __future__ import annotations

import logging
import random
import signal
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from alexnet_lightning.compat import batches_taken_this_epoch, cluster_environment

log = logging.getLogger(__name__)


class RNGStateCheckpoint(L.Callback):
    """Puts the torch (CPU and CUDA), numpy and python RNG states into each checkpoint.

    Lightning's Trainer restores weights, optimizer, scheduler and loop counters but not these,
    so a resumed run would draw other dropout masks and augmentations than the run it
    continues; Fabric's ``_collect_rng_states`` holds numpy arrays, which
    ``torch.load(weights_only=True)`` refuses. Here they are tensors, ints and lists. Restored
    when Lightning restores callbacks, before the sanity check and the first batch. Data order
    and crops do not depend on these (see ``data/samplers.py``), so prefetching loaders cannot
    make them run ahead.
    """

    def state_dict(self) -> dict[str, Any]:
        version, keys, gauss = random.getstate()
        numpy_state = np.random.get_state(legacy=False)
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": {
                "bit_generator": numpy_state["bit_generator"],
                "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
                "pos": int(numpy_state["state"]["pos"]),
                "has_gauss": int(numpy_state["has_gauss"]),
                "gauss": float(numpy_state["gauss"]),
            },
            "python": {"version": version, "keys": list(keys), "gauss": gauss},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        if state_dict["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])
        numpy_state = state_dict["numpy"]
        np.random.set_state(
            {
                "bit_generator": numpy_state["bit_generator"],
                "state": {
                    "key": numpy_state["key"].numpy().astype(np.uint32),
                    "pos": numpy_state["pos"],
                },
                "has_gauss": numpy_state["has_gauss"],
                "gauss": numpy_state["gauss"],
            }
        )
        python = state_dict["python"]
        random.setstate((python["version"], tuple(python["keys"]), python["gauss"]))


TRAIN_EPOCH_KEY = "train_epoch_metrics"


class TrainEpochMetricsCheckpoint(L.Callback):
    """Puts the running sums of the epoch's training metrics (``train_epoch_metrics()`` of the
    module: train/loss, train/acc, ...) into each checkpoint, and restores them when a run
    resumes inside that epoch.

    Lightning saves no metric state, so a run resumed mid-epoch would log (and write to
    metrics.json) the mean of the batches after the resume only. Summed over ranks; rank 0
    restores them.
    """

    def __init__(self) -> None:
        self._saved: dict[str, Any] | None = None

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        states = {}
        for name, metric in pl_module.train_epoch_metrics().items():
            with metric.sync_context():  # a no-op in a single process
                states[name] = {k: v.detach().cpu().clone() for k, v in metric.metric_state.items()}
        checkpoint[TRAIN_EPOCH_KEY] = {"epoch": int(pl_module.current_epoch), "states": states}

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self._saved = checkpoint.get(TRAIN_EPOCH_KEY)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        saved, self._saved = self._saved, None
        if saved is None or trainer.global_rank != 0:
            return
        # Only when batches of the checkpoint's epoch remain to run: they log these metrics,
        # so Lightning computes and resets them at that epoch's end. The sums of an epoch
        # that had ended would leak into the next one.
        continues_epoch = saved["epoch"] == trainer.current_epoch
        if not continues_epoch or batches_taken_this_epoch(trainer) >= trainer.num_training_batches:
            return
        for name, metric in pl_module.train_epoch_metrics().items():
            for key, value in saved["states"].get(name, {}).items():
                setattr(metric, key, value.to(pl_module.device))


class PreemptionCheckpoint(L.Callback):
    """On a stop signal, write ``checkpoints/last.ckpt`` at the next batch boundary and exit.

    Lightning lacks the save: on SIGTERM it stops at the next batch (``SIGTERMException``)
    saving nothing, its ``OnExceptionCheckpoint`` deletes its file when a fit ends and turns
    every later ``fit(ckpt_path=None)`` into a resume, and it listens to SIGUSR1 only under
    SLURM auto-requeue (where it saves ``hpc_ckpt_*.ckpt`` and requeues the job itself, which
    we leave to it). The checkpoint is written from ``on_train_batch_end``, where step-interval
    checkpoints are written, so resuming from it is exact; every rank then leaves through
    Lightning's ``SIGTERMException``.

    A signal that already had a Python handler when training started keeps it, run after the
    save: submitit's SIGUSR2 handler (the warning before a time limit, or ``scancel
    --signal=USR2`` at a preemption) requeues the job, which then resumes from that save.
    """

    def __init__(self, signals: tuple[str, ...] = ("SIGTERM", "SIGUSR1", "SIGUSR2")) -> None:
        self.signals = tuple(signals)
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}
        self._frame: Any = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        slurm = cluster_environment(trainer)
        slurm_requeues = isinstance(slurm, SLURMEnvironment) and slurm.auto_requeue
        for name in self.signals:
            signum = getattr(signal, name)
            # SIGTERM is caught by Lightning's handler, which sets trainer.received_sigterm.
            if signum == signal.SIGTERM or (slurm_requeues and signum == slurm.requeue_signal):
                continue
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.requested, self._frame = signal.Signals(signum).name, frame

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        local = self.requested is not None or trainer.received_sigterm
        # Every rank must take part in the save and stop at the same batch.
        if not trainer.strategy.reduce_boolean_decision(local, all=False):
            return
        path = last_checkpoint_path(trainer)
        trainer.save_checkpoint(path)
        log.warning(
            "%s received: saved %s at step %d; resume with ckpt_path=%s",
            self.requested or "SIGTERM",
            path,
            trainer.global_step,
            path,
        )
        signum = getattr(signal, self.requested) if self.requested else None
        handler = self._previous.get(signum)
        if callable(handler):  # e.g. submitit's: requeue this job, then exit
            handler(signum, self._frame)
        raise SIGTERMException

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}


def last_checkpoint_path(trainer: L.Trainer) -> Path:
    """Where the run's ``last`` checkpoint callback writes, or checkpoints/last.ckpt."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.filename == "last":
            return Path(callback.dirpath) / f"last{callback.FILE_EXTENSION}"
    return Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"
