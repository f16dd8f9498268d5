"""Samplers that make data order a pure function of (seed, epoch, position).

Lightning replaces a loader's sampler with a padding ``DistributedSampler`` under DDP and
torch's ``RandomSampler`` draws its order from the global RNG. Neither can resume in the
middle of an epoch, and padding counts some validation images twice. These subclass
``DistributedSampler`` (so Lightning leaves them in place) and shard the data themselves.
Evaluation uses Lightning's ``UnrepeatedDistributedSampler`` (a DistributedSampler too): in
order, shard ``rank::num_replicas``, every image exactly once over all ranks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import torch
from torch.utils.data import Dataset, DistributedSampler

# The seed SeededSamples gave the sample being loaded now (None outside it), for loaders that
# leave the random crop to the main process (data.decode_on_device) so it draws the same crop.
current_sample_seed: ContextVar[int | None] = ContextVar("current_sample_seed", default=None)

# Separates the per-epoch generator seeds of nearby base seeds (seed 1 epoch 0 vs seed 0 epoch 1).
_EPOCH_STRIDE = 1_000_003


class ResumableShuffleSampler(DistributedSampler):
    """Shuffled training order from ``seed + epoch``, sharded over ranks, skippable.

    Yields ``(index, sample_seed)`` pairs: ``SeededSamples`` seeds each image's random crop
    with ``sample_seed``, so crops do not depend on the global RNG, loader workers or on how
    far the loader prefetched when a checkpoint was written. ``skip(epoch, n)`` makes every
    iterator of that epoch start at its ``n``-th sample (this rank's): how a run resumes
    mid-epoch. Like torch's sampler it pads each rank to the same length, so every rank takes
    the same number of optimizer steps.

    The skip holds for its epoch until ``set_epoch`` moves past it, rather than for one
    ``iter()``: when the loader has workers, the iterator is created (and the sampler read
    ahead) at a moment that differs from a loader without workers, sometimes more than once
    per epoch, and each of those iterators must see the same resumed order.
    """

    def __init__(
        self,
        dataset: Dataset,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
        epoch: int = 0,
    ):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.epoch = epoch
        self._skip: tuple[int, int] | None = None

    def skip(self, epoch: int, samples: int) -> None:
        self._skip = (epoch, samples) if samples > 0 else None

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if self._skip is not None and epoch > self._skip[0]:
            self._skip = None  # the resumed epoch is over

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        generator = torch.Generator().manual_seed(self.seed + _EPOCH_STRIDE * self.epoch)
        order = torch.randperm(len(self.dataset), generator=generator)
        seeds = torch.randint(2**62, (len(self.dataset),), generator=generator)
        padding = self.total_size - len(order)
        if padding:
            order = torch.cat([order, order[:padding]])
        mine = order[self.rank : self.total_size : self.num_replicas].tolist()
        start = self._skip[1] if self._skip is not None and self._skip[0] == self.epoch else 0
        for index in mine[start:]:
            yield index, int(seeds[index])


class SeededSamples(Dataset):
    """``dataset[(index, seed)]`` = ``dataset[index]`` with torch's RNG seeded by ``seed``.

    The global RNG is forked, so loading consumes none of it: dropout and on-device
    augmentation draw the same numbers whether or not the run was resumed.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: int | tuple[int, int]) -> Any:
        if isinstance(key, int):  # a plain sampler (Lightning's overfit_batches swaps ours out)
            return self.dataset[key]
        index, seed = key
        token = current_sample_seed.set(seed)
        try:
            with torch.random.fork_rng(devices=[]):
                # not torch.manual_seed: while CUDA is not initialised, that queues a CUDA
                # seeding with a formatted stack trace on every call (0.2-2 ms per image)
                torch.default_generator.manual_seed(seed)
                return self.dataset[index]
        finally:
            current_sample_seed.reset(token)
