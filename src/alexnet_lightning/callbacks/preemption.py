"""Save last.ckpt when the job is told to stop (SIGTERM, SIGUSR2, or SIGUSR1 outside SLURM), then
exit, or hand over to the signal's own handler (submitit's requeue)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from alexnet_lightning.compat import cluster_environment

log = logging.getLogger(__name__)


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
