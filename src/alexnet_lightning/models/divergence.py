"""Watching for a non-finite training loss without stopping the CPU every step.

``if not torch.isfinite(loss)`` reads a GPU value on the host: the CPU waits for the step to
finish and cannot queue the next one. Instead the first bad step is remembered on the device
with tensor ops only, and the host looks at it (one read) every ``every`` steps, before
every checkpoint is written (a checkpoint taken after the loss went bad is never "good") and
when an epoch ends. The losses of the steps to be logged wait on the device too, and travel
to the host in the same read.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from alexnet_lightning.errors import TrainingDiverged


class NonFiniteLossWatch:
    """The first step whose loss was NaN or infinite, and that loss, kept on the loss's device."""

    def __init__(self, every: int = 50) -> None:
        if every < 1:
            raise ValueError(f"check every >= 1 steps, got {every}")
        self.every = every
        self._step: torch.Tensor | None = None  # -1 while every loss was finite
        self._loss: torch.Tensor | None = None
        self._kept: dict[int, torch.Tensor] = {}  # step -> loss, waiting for the next look
        self._last_kept = -1

    def update(self, loss: torch.Tensor, step: int) -> None:
        """Record ``loss`` of ``step``; queues three small kernels, never waits for them."""
        loss = loss.detach().float()
        if self._step is None or self._step.device != loss.device:
            self._step = torch.full((), -1, dtype=torch.int64, device=loss.device)
            self._loss = torch.zeros((), device=loss.device)
        first = (self._step < 0) & ~torch.isfinite(loss)
        self._step = torch.where(first, step, self._step)  # a Python int: no host-to-device copy
        self._loss = torch.where(first, loss, self._loss)

    def keep(self, loss: torch.Tensor, step: int) -> None:
        """Hold ``loss`` of ``step`` for the next look; once per step (under gradient
        accumulation the batches after a step carry its number until the next one)."""
        if step > self._last_kept:
            self._kept[step], self._last_kept = loss.detach().float(), step

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def check(self, report: Callable[[list[tuple[int, float]]], None] | None = None) -> None:
        """The one host read: hand the kept losses to ``report`` as ``(step, loss)``, then raise
        TrainingDiverged naming the first bad step, if there was one."""
        if self._step is None:
            return
        kept, self._kept = self._kept, {}
        # float32 (MPS has no float64) holds every step number below 2**24 exactly
        values = [self._step.float(), self._loss, *kept.values()]
        step, loss, *losses = torch.stack(values).tolist()
        if report is not None and kept:
            report(list(zip(kept, losses, strict=True)))
        if step >= 0:
            raise TrainingDiverged(
                f"loss is {loss} at step {int(step)}; lower model.optimizer.lr or add "
                "a warmup (model/scheduler=cosine_warmup)"
            )
