"""The DataModules' shared part, ``ImageDataModule``: the loading and augmentation settings, the
crop plan (data/crop_plan.py), the loaders and their samplers (exact resume, DDP shards), the
test split's fallback to val, and the on-device augmentation. A source subclasses it with only
what it owns: ``inspect`` (classes and split sizes), ``setup`` (one dataset per split), its
collate function, and its batch hooks' crops (folder_datamodule.py, packed/datamodule.py).
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset

from alexnet_lightning.compat import batches_taken_this_epoch
from alexnet_lightning.config_checks import check_value
from alexnet_lightning.data.crop_plan import CropPlan
from alexnet_lightning.data.folder import (
    FolderInfo,
    ImageFiles,
)
from alexnet_lightning.data.samplers import ResumableShuffleSampler, SeededSamples
from alexnet_lightning.data.transforms import (
    EVAL_RESIZE_RATIO,
    IMAGENET_MEAN,
    IMAGENET_STD,
    BatchAugment,
)
from alexnet_lightning.errors import ConfigError, DataError
from alexnet_lightning.utils.instantiate import plain_config


def batch_augmentation(name: str, spec: Mapping[str, Any]) -> Callable:
    """``data.batch_augment.<name>``: the augmentation its ``_target_`` makes; ConfigError
    naming the key for one that cannot be made."""
    key = f"data.batch_augment.{name}"
    if not isinstance(spec, Mapping) or "_target_" not in spec:
        raise ConfigError(f"{key}={spec!r} is invalid: it must have a _target_ (a class)")
    try:
        augment = instantiate(spec)
    except Exception as err:  # Hydra wraps the import or constructor error
        cause = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{key}._target_={spec['_target_']!r} cannot be made: {cause}") from None
    if not callable(augment):
        raise ConfigError(f"{key}._target_={spec['_target_']!r} is invalid: it is not callable")
    return augment


def splits_of_stage(stage: str | None) -> tuple[str, ...]:
    """The splits a Lightning stage loads (None: those of fit; an unknown stage: all)."""
    return {
        "fit": ("train", "val"),
        "validate": ("val",),
        "test": ("test",),
        "predict": ("test",),
    }.get(stage or "fit", ("train", "val", "test"))


class ImageDataModule(L.LightningDataModule, ABC):
    """Batches of one image source, its loaders and samplers, and the augmentation on the device.

    Loaders hand over uint8 crops (or what the source's ``on_after_batch_transfer`` crops);
    flip, PCA lighting and normalisation run on the device in ``on_after_batch_transfer``.
    Without a test split the test split is ``val``.
    """

    def __init__(
        self,
        root: str,
        num_classes: int | None = None,
        batch_size: int = 128,
        num_workers: int = 4,
        image_size: int = 224,
        train_crop: str = "random_resized",
        crop_scale: Sequence[float] = (0.08, 1.0),
        crop_ratio: Sequence[float] = (3 / 4, 4 / 3),
        eval_resize_ratio: float = EVAL_RESIZE_RATIO,
        lighting_std: float = 0.1,
        hflip: bool = True,
        normalize: bool = True,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        pin_memory: bool = True,
        persistent_workers: bool = True,
        test_split: str = "test",
        test_views: str = "center",
        batch_augment: Mapping[str, Any] | None = None,
    ) -> None:
        """``batch_augment``: name -> Hydra config (``_target_``) of an augmentation of the
        training batch on the device, (B, 3, H, W) float in [0, 1] -> the same, applied after
        flip and PCA lighting in the order given (README, Extending)."""
        super().__init__()
        batch_augment = plain_config(batch_augment or {})
        # Plain types only: the checkpoint stores these and must load with weights_only=True.
        self.save_hyperparameters(
            {
                "root": str(root),
                "num_classes": None if num_classes is None else int(num_classes),
                "batch_size": int(batch_size),
                "num_workers": int(num_workers),
                "image_size": int(image_size),
                "train_crop": str(train_crop),
                "crop_scale": [float(v) for v in crop_scale],
                "crop_ratio": [float(v) for v in crop_ratio],
                "eval_resize_ratio": float(eval_resize_ratio),
                "lighting_std": float(lighting_std),
                "hflip": bool(hflip),
                "normalize": bool(normalize),
                "mean": [float(v) for v in mean],
                "std": [float(v) for v in std],
                "pin_memory": bool(pin_memory),
                "persistent_workers": bool(persistent_workers),
                "test_split": str(test_split),
                "test_views": str(test_views),
                "batch_augment": batch_augment,
            },
            logger=False,
        )
        for key, value in (
            ("train_crop", train_crop),
            ("test_views", test_views),
            ("hflip", hflip),
            ("normalize", normalize),
        ):
            check_value(f"data.{key}", value)
        self.root = Path(root).expanduser()
        # every path's crops: which one each split gets, each sample's drawn from its seed
        self.crop_plan = CropPlan(
            self.hparams.train_crop,
            self.hparams.image_size,
            self.hparams.eval_resize_ratio,
            tuple(self.hparams.crop_scale),
            tuple(self.hparams.crop_ratio),
        )
        self.augment = BatchAugment(
            self.hparams.mean,
            self.hparams.std,
            lighting_std,
            flip=hflip,
            normalize=normalize,
            extra=[batch_augmentation(name, spec) for name, spec in batch_augment.items()],
        )
        self._info: FolderInfo | None = None
        self.datasets: dict[str, Dataset] = {}
        # (epoch, samples of this rank done in it) where the restored checkpoint continues
        self._resume_at: tuple[int, int] | None = None

    def test_source(self, has_split: Callable[[str], bool]) -> str:
        """The split that serves ``test``: ``data.test_split`` when the source has it (and it
        is not val), else val. ``has_split(name)``: whether the source holds that split."""
        name = self.hparams.test_split
        return name if name != "val" and has_split(name) else "val"

    @abstractmethod
    def inspect(self) -> FolderInfo:
        """Check the source (raises DataError) and return its classes, names and split sizes."""

    @abstractmethod
    def _collate(self, split: str) -> Callable[[list], Any]:
        """How the split's loader puts samples together."""

    @property
    def class_names(self) -> list[str]:
        return self.inspect().names

    @property
    def _training(self) -> bool:
        return self.trainer is not None and self.trainer.training

    def _device(self) -> torch.device:
        return self.trainer.strategy.root_device if self.trainer else torch.device("cpu")

    def _ranks(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        hp = self.hparams
        workers = hp.num_workers
        dataset = self.datasets[split]
        replicas, rank = self._ranks()
        if shuffle:
            sampler = self._train_sampler(dataset, replicas, rank)
            dataset = self._seeded(dataset)
        else:
            if len(dataset) < replicas:  # Lightning's sampler asserts each rank gets one
                raise DataError(
                    f"the {split} split has {len(dataset)} images, fewer than the {replicas} "
                    "processes evaluating it; add images or run on fewer devices"
                )
            # in order, every image once over all ranks: padding would count some twice
            sampler = UnrepeatedDistributedSampler(
                dataset, num_replicas=replicas, rank=rank, shuffle=False
            )
        return DataLoader(
            dataset,
            batch_size=hp.batch_size,
            sampler=sampler,
            num_workers=workers,
            pin_memory=hp.pin_memory and torch.cuda.is_available(),
            persistent_workers=hp.persistent_workers and workers > 0,
            collate_fn=self._collate(split),
            # Training batches keep a fixed size, which keeps BatchNorm-free AlexNet's learning
            # rate meaning the same from step to step and lets torch.compile reuse its graph.
            drop_last=shuffle and len(sampler) > hp.batch_size,
            # The loader draws a worker base seed per epoch; from its own generator, so that
            # draw leaves the global RNG (dropout, augmentation) untouched.
            generator=torch.Generator().manual_seed(0),
        )

    def _train_sampler(
        self, dataset: ImageFiles, replicas: int, rank: int
    ) -> ResumableShuffleSampler:
        """The training order, at the epoch and position the fit loop continues from.

        A loader with workers reads its sampler ahead as soon as its first iterator exists,
        which Lightning creates before it calls ``set_epoch`` (and before it restores its loops,
        when a scheduler asks for ``estimated_stepping_batches``): so the sampler starts at
        the position of the checkpoint this DataModule was restored from.
        """
        # Lightning's seed_everything exports PL_GLOBAL_SEED to every rank; its own
        # DistributedSampler takes the same default.
        seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
        sampler = ResumableShuffleSampler(dataset, replicas, rank, seed=seed)
        epoch = 0 if self.trainer is None else int(self.trainer.current_epoch)
        if self._resume_at is not None:
            sampler.skip(*self._resume_at)
            epoch = max(epoch, self._resume_at[0])
        sampler.set_epoch(epoch)
        return sampler

    def _seeded(self, dataset: ImageFiles) -> Dataset:
        """The training dataset as the shuffle sampler's (index, seed) pairs index it."""
        return SeededSamples(dataset)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def state_dict(self) -> dict[str, int]:
        """Where training is in the data order, saved in every checkpoint.

        ``batches_done`` counts the batches the training loop has taken this epoch (the batch
        of an on_train_batch_end checkpoint included), not those the loader has prefetched;
        ``epoch_batches`` is how many the epoch has (limit_train_batches applied), so equal
        counts mean the epoch had ended.
        """
        trainer = self.trainer
        if trainer is None or not math.isfinite(trainer.num_training_batches):
            return {}
        return {
            "epoch": int(trainer.current_epoch),
            "batches_done": batches_taken_this_epoch(trainer),
            "epoch_batches": int(trainer.num_training_batches),
        }

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        if not state_dict:
            return
        epoch, batches = int(state_dict["epoch"]), int(state_dict["batches_done"])
        if batches >= state_dict["epoch_batches"]:  # saved at the end of its epoch: next one
            epoch, batches = epoch + 1, 0
        # whole batches of this rank's shard (drop_last keeps them full), also under
        # limit_train_batches: the unit the sampler skips in
        self._resume_at = (epoch, batches * self.hparams.batch_size)

    def teardown(self, stage: str) -> None:
        if stage == "fit":  # a later fit of this DataModule starts where its own checkpoint says
            self._resume_at = None

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        images, targets = batch
        if images.numel() == 0:
            return batch
        return self.augment(images, train=self._training), targets


def standalone_trainer(device: torch.device | str, training: bool = True) -> SimpleNamespace:
    """What the DataModule's loaders and batch hooks read from a Trainer, for using them outside
    Trainer.fit (the benchmark, tests): one process at epoch 0, training or evaluating on
    ``device``."""
    return SimpleNamespace(
        strategy=SimpleNamespace(root_device=torch.device(device)),
        training=training,
        testing=False,
        world_size=1,
        global_rank=0,
        current_epoch=0,
    )
