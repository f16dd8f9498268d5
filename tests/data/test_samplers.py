"""Samplers: evaluation shards cover every image once; training order resumes mid-epoch."""

import pytest
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, DistributedSampler

from alexnet_lightning.data.samplers import ResumableShuffleSampler, SeededSamples


def eval_sampler(data, replicas, rank):
    """The evaluation sampler as the DataModule builds it."""
    return UnrepeatedDistributedSampler(data, num_replicas=replicas, rank=rank, shuffle=False)


@pytest.mark.parametrize(("size", "replicas"), [(15, 2), (16, 3), (4, 4)])
def test_eval_shards_cover_every_image_exactly_once(size, replicas):
    data = list(range(size))
    shards = [list(eval_sampler(data, replicas, rank)) for rank in range(replicas)]
    assert sorted(i for shard in shards for i in shard) == data
    assert [len(eval_sampler(data, replicas, r)) for r in range(replicas)] == [
        len(s) for s in shards
    ]
    # a DistributedSampler, so Lightning leaves it in place instead of a padding one
    assert isinstance(eval_sampler(data, replicas, 0), DistributedSampler)


def test_training_order_is_a_function_of_seed_and_epoch():
    data = list(range(20))
    a, b = ResumableShuffleSampler(data, seed=3), ResumableShuffleSampler(data, seed=3)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert [i for i, _ in a] != [i for i, _ in first]
    assert sorted(i for i, _ in a) == data
    assert list(ResumableShuffleSampler(data, seed=4)) != first


def test_skip_resumes_its_epoch_for_every_iterator_then_runs_full_epochs():
    data = list(range(20))
    full = ResumableShuffleSampler(data, seed=0)
    full.set_epoch(2)
    resumed = ResumableShuffleSampler(data, seed=0, epoch=2)
    resumed.skip(epoch=2, samples=8)
    assert list(resumed) == list(full)[8:]
    # a loader may create its iterator (and read the sampler) more than once per epoch
    assert list(resumed) == list(full)[8:]
    resumed.set_epoch(3)
    full.set_epoch(3)
    assert list(resumed) == list(full)
    resumed.set_epoch(2)  # the skip ended with its epoch
    full.set_epoch(2)
    assert list(resumed) == list(full)


class _Keys:
    """A dataset that returns the (index, seed) key it is given."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key):
        return key


@pytest.mark.parametrize("persistent", [True, False])
def test_a_loader_with_workers_resumes_before_lightning_calls_set_epoch(persistent):
    """Lightning creates the first iterator when it requests the loader, and a loader with
    workers reads its sampler ahead right then, before set_epoch: the sampler must already be
    at the resumed epoch, as the DataModule builds it."""
    data = list(range(24))
    full = ResumableShuffleSampler(data, seed=5, epoch=1)
    sampler = ResumableShuffleSampler(data, seed=5, epoch=1)
    sampler.skip(epoch=1, samples=8)
    loader = DataLoader(
        _Keys(len(data)),
        batch_size=4,
        sampler=sampler,
        num_workers=2,
        persistent_workers=persistent,
        collate_fn=lambda batch: [index for index, _ in batch],
    )
    batches = iter(loader)  # the moment Lightning's fit loop creates the iterator
    sampler.set_epoch(1)  # what Lightning then calls at the epoch's start
    resumed = [index for batch in batches for index in batch]
    assert resumed == [index for index, _ in full][8:]
    sampler.set_epoch(2)
    full.set_epoch(2)
    assert [index for batch in loader for index in batch] == [index for index, _ in full]


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
