"""Learning-rate schedules torch.optim does not ship as one piece."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR


def linear_warmup_cosine(
    optimizer: Optimizer,
    total_steps: int,
    warmup_fraction: float = 0.05,
    start_factor: float = 0.01,
    min_lr_ratio: float = 0.0,
) -> LRScheduler:
    """Linear warmup over the first ``warmup_fraction`` of the steps, then cosine decay.

    AlexNet has no batch norm: a warmup keeps the first large updates from killing ReLUs.
    ``total_steps`` comes from the trainer (the LightningModule fills it in).
    """
    if not 0.0 <= warmup_fraction < 1.0:
        raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
    warmup = max(1, round(total_steps * warmup_fraction))
    base_lr = optimizer.param_groups[0]["lr"]
    return SequentialLR(
        optimizer,
        schedulers=[
            LinearLR(optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup),
            CosineAnnealingLR(
                optimizer, T_max=max(1, total_steps - warmup), eta_min=base_lr * min_lr_ratio
            ),
        ],
        milestones=[warmup],
    )
