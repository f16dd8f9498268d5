"""Watching for a non-finite training loss without stopping the CPU every step.

``if not torch.isfinite(loss)`` reads a GPU value on the host: the CPU waits for the step to
finish and cannot queue the next one. Instead the first bad step is remembered on the device
with tensor ops only, and the host looks at it (one ``.item()``) every ``every`` steps, before
every checkpoint is written (a checkpoint taken after the loss went bad is never "good") and
when an epoch ends.
"""

from __future__ import annotations

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

    def update(self, loss: torch.Tensor, step: int) -> None:
        """Record ``loss`` of ``step``; queues three small kernels, never waits for them."""
        loss = loss.detach().float()
        if self._step is None or self._step.device != loss.device:
            self._step = torch.full((), -1, dtype=torch.int64, device=loss.device)
            self._loss = torch.zeros((), device=loss.device)
        first = (self._step < 0) & ~torch.isfinite(loss)
        self._step = torch.where(first, step, self._step)  # a Python int: no host-to-device copy
        self._loss = torch.where(first, loss, self._loss)

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def check(self) -> None:
        """Raise TrainingDiverged naming the first bad step (the one host sync)."""
        if self._step is None:
            return
        step = int(self._step.item())
        if step >= 0:
            raise TrainingDiverged(
                f"loss is {self._loss.item()} at step {step}; lower model.optimizer.lr or add "
                "a warmup (model/scheduler=cosine_warmup)"
            )
