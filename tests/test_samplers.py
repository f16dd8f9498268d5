"""Samplers: evaluation shards cover every image once; training order resumes mid-epoch."""

import pytest
import torch

from alexnet_lightning.data.samplers import (
    ResumableShuffleSampler,
    SeededSamples,
    UnpaddedEvalSampler,
)


@pytest.mark.parametrize(("size", "replicas"), [(15, 2), (16, 3), (2, 4)])
def test_eval_shards_cover_every_image_exactly_once(size, replicas):
    data = list(range(size))
    shards = [list(UnpaddedEvalSampler(data, replicas, rank)) for rank in range(replicas)]
    assert sorted(i for shard in shards for i in shard) == data
    assert [len(UnpaddedEvalSampler(data, replicas, r)) for r in range(replicas)] == [
        len(s) for s in shards
    ]


def test_training_order_is_a_function_of_seed_and_epoch():
    data = list(range(20))
    a, b = ResumableShuffleSampler(data, seed=3), ResumableShuffleSampler(data, seed=3)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert [i for i, _ in a] != [i for i, _ in first]
    assert sorted(i for i, _ in a) == data
    assert list(ResumableShuffleSampler(data, seed=4)) != first


def test_skip_resumes_the_same_epoch_order_then_runs_full_epochs():
    data = list(range(20))
    full = ResumableShuffleSampler(data, seed=0)
    full.set_epoch(2)
    resumed = ResumableShuffleSampler(data, seed=0)
    resumed.set_epoch(2)
    resumed.skip(epoch=2, samples=8)
    assert list(resumed) == list(full)[8:]
    assert list(resumed) == list(full)  # the skip applies once
    resumed.set_epoch(3)
    full.set_epoch(3)
    assert list(resumed) == list(full)


def test_ranks_split_the_epoch_between_them():
    data = list(range(21))
    ranks = [ResumableShuffleSampler(data, 2, rank, seed=0) for rank in range(2)]
    shards = [[i for i, _ in sampler] for sampler in ranks]
    assert len(shards[0]) == len(shards[1]) == 11  # padded so both take the same steps
    assert set(shards[0]) | set(shards[1]) == set(data)


def test_seeded_samples_repeat_their_crop_and_leave_the_global_rng_alone():
    class RandomImage:
        def __len__(self):
            return 1

        def __getitem__(self, index):
            return torch.rand(3)

    samples = SeededSamples(RandomImage())
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    first = samples[(0, 123)]
    assert torch.equal(first, samples[(0, 123)])
    assert not torch.equal(first, samples[(0, 124)])
    assert torch.equal(torch.rand(1), expected_next)
    assert samples[0].shape == (3,)  # plain indices too (Lightning's overfit_batches sampler)
