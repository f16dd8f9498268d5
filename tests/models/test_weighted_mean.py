"""The loss mean over batches of unequal size (the last batch, unequal DDP shards)."""

import pytest
import torch

from alexnet_lightning.models.weighted_mean import WeightedMean


def test_batches_count_by_their_size_not_once_each():
    mean = WeightedMean()
    mean.update(torch.tensor(1.0), 8)
    mean.update(torch.tensor(4.0), 2)
    assert mean.compute().item() == pytest.approx((8 * 1.0 + 2 * 4.0) / 10)  # not (1 + 4) / 2


def test_a_non_finite_value_is_kept_not_filtered():
    # filtering NaNs would need the host to look at every update; the divergence watch stops
    # the run instead, and the epoch's mean shows the NaN
    mean = WeightedMean()
    mean.update(torch.tensor(float("nan")), 4)
    mean.update(torch.tensor(1.0), 4)
    assert torch.isnan(mean.compute())
