"""The mean of per-batch values weighted by batch size, synchronised across ranks."""

from __future__ import annotations

import torch
from torchmetrics import Metric


class WeightedMean(Metric):
    """``sum(value * weight) / sum(weight)`` over the updates of an epoch (and all ranks).

    Hand-written because torchmetrics' ``MeanMetric`` (1.9) either checks every update for NaN
    on the host, which waits for the GPU at every step, or with ``nan_strategy="disable"``
    silently replaces the weights by ones, so shards of unequal size would be averaged wrong.
    The state names are MeanMetric's, so checkpoints holding them load either way.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("mean_value", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("weight", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, value: torch.Tensor, weight: float) -> None:
        """``value``: a batch's mean (a scalar tensor); ``weight``: its number of samples."""
        self.mean_value += value.detach().float() * weight
        self.weight += weight

    def compute(self) -> torch.Tensor:
        return self.mean_value / self.weight
