"""``data=packed``: training from a packed folder (``scripts/pack_dataset.py``).

The loader does almost nothing: it gathers a batch's rows from the mapped array with one read
and draws the batch's crops from the per-sample seeds (the same torchvision draws the per-image
path makes). Cropping, flips, PCA lighting and normalisation run on the device as whole-batch
ops in ``on_after_batch_transfer`` (training on the CPU, the loader workers cut the crops
instead: ``crop_in_loader``). With ``packed_on_device`` the whole array lives in the
device's memory and the loader hands over only row numbers and crop draws.

Sizes: packed images are side x side. Crops behave as if the image had been resized to
``round(image_size * eval_resize_ratio)`` (256 for 224, as in the per-image path): when ``side``
differs, the paper crop, the centre crop and ten-crop first resize the batch on the device
(antialiased). Pack at that side to skip the resize. RandomResizedCrop draws its box on the
side x side image directly (so it sees the central square, not the whole photograph).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from alexnet_lightning.config_checks import FILE_OPTIONS, refuse_file_options
from alexnet_lightning.data import batch_crops
from alexnet_lightning.data.datamodule import ImageDataModule, splits_of_stage
from alexnet_lightning.data.folder import FolderInfo
from alexnet_lightning.data.packed.store import PackedSplit, read_packed_manifest
from alexnet_lightning.errors import DataError


class PackedRows(Dataset):
    """Batches of one packed split: ``__getitems__`` gathers all of a batch's rows at once.

    A batch is ``(images, targets, rows, draws)``: images uint8 (N, side, side, 3) (empty when
    the array lives on the device), class indices, row numbers, and the crop draws of the
    batch's per-sample seeds (``draw(seeds)``; empty for evaluation). With ``crop``, the worker
    cuts the crops itself: images are then the (N, 3, size, size) crops, ``crop(images, draws)``.
    """

    def __init__(self, split: PackedSplit, with_pixels: bool, draw=None, crop=None) -> None:
        self.split, self.with_pixels, self.draw, self.crop = split, with_pixels, draw, crop

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, key: Any) -> tuple:
        return self.__getitems__([key])

    def __getitems__(self, keys: Sequence[Any]) -> tuple:
        if keys and isinstance(keys[0], tuple | list):  # (index, seed) from the shuffle sampler
            rows = np.array([k[0] for k in keys], dtype=np.int64)
            seeds = [int(k[1]) for k in keys]
        else:
            rows, seeds = np.array(keys, dtype=np.int64), None
        draws = self.draw(seeds) if self.draw is not None and seeds is not None else torch.empty(0)
        targets = torch.from_numpy(self.split.labels[rows])
        if not self.with_pixels:
            return torch.empty(0, dtype=torch.uint8), targets, torch.from_numpy(rows), draws
        if self.crop is not None:  # the crops straight out of the mapped file: no batch copy
            crops = self.crop(self.split.pixels(), draws, rows=torch.from_numpy(rows))
            return crops, targets, torch.from_numpy(rows), draws
        # one read of the rows in file order, then back into the sampler's order
        order = np.argsort(rows, kind="stable")
        images = np.empty((len(rows), *self.split.images.shape[1:]), dtype=np.uint8)
        images[order] = self.split.images[rows[order]]
        return torch.from_numpy(images), targets, torch.from_numpy(rows), draws


def _identity(batch: tuple) -> tuple:
    return batch


class PackedDataModule(ImageDataModule):
    """A packed folder (see the module docstring): rows gathered by the loader, cropped on the
    device or, training on the CPU, by the loader workers."""

    # whether crops larger than the packed side are made by upsampling (a small-image dataset
    # fed to ImageNet-sized networks) rather than refused as a pack made too small
    upsamples = False

    def __init__(
        self,
        root: str,
        packed_on_device: bool = False,
        crop_in_loader: bool | None = None,
        **options: Any,
    ) -> None:
        """``options``: ImageDataModule's loading and augmentation arguments (batch_size,
        image_size, train_crop, ...), and imagefolder.yaml's file options at the values that
        ask for nothing (config_checks.FILE_OPTIONS); any other value is a ConfigError."""
        refuse_file_options(options)
        shared = {k: v for k, v in options.items() if k not in FILE_OPTIONS}
        super().__init__(root, **shared)
        self.hparams["packed_on_device"] = bool(packed_on_device)
        self.hparams["crop_in_loader"] = None if crop_in_loader is None else bool(crop_in_loader)
        self._crops_in_loader = False
        self._packed = None
        self._on_device_arrays: dict[str, torch.Tensor] = {}

    # --- what the folder holds --------------------------------------------------------------
    def inspect(self) -> FolderInfo:
        if self._info is None:
            self._packed = read_packed_manifest(self.root, self.hparams.num_classes)
            p = self._packed
            self._info = FolderInfo(p.root, p.classes, p.names, dict(p.counts))
            if p.side < self.hparams.image_size and not self.upsamples:
                raise DataError(
                    f"{self.root} is packed at {p.side} px, smaller than data.image_size="
                    f"{self.hparams.image_size}; pack it again with a larger --side"
                )
        return self._info

    def _packed_split(self, split: str) -> str:
        if split == "test":
            return self.test_source(lambda name: name in self.inspect().split_sizes)
        return split

    # --- loading ----------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        info = self.inspect()
        wanted = splits_of_stage(stage)
        on_device = self.hparams.packed_on_device
        in_loader = self.hparams.crop_in_loader
        if in_loader is None:
            # Training on the CPU: the workers crop, so the main process only trains. On an
            # accelerator the crop stays one batched op there.
            in_loader = self._device().type == "cpu"
        self._crops_in_loader = bool(in_loader) and not on_device
        for split in wanted:
            if split in self.datasets:
                continue
            name = self._packed_split(split)
            packed = PackedSplit(self.root, name, info.split_sizes[name])
            draw = self._draw if split == "train" else None
            crop = partial(self._crop, split=split) if self._crops_in_loader else None
            self.datasets[split] = PackedRows(
                packed, with_pixels=not on_device, draw=draw, crop=crop
            )
            if on_device:
                self._to_device(split, packed)

    def _draw(self, seeds: list[int]) -> torch.Tensor:
        """The crops the per-image path would draw for these seeds (CPU, in workers)."""
        side = self._packed.side if self._packed is not None else self.inspect().side
        return self.crop_plan.draws(seeds, side, side)

    def _to_device(self, split: str, packed: PackedSplit) -> None:
        device = self._device()
        nbytes = packed.images.nbytes
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            # room left for the network, its activations and the batches
            if nbytes > free - 4 * 2**30:
                raise DataError(
                    f"the packed {split} split of {self.root} needs {nbytes / 2**30:.1f} GiB and "
                    f"{device} has {free / 2**30:.1f} GiB free (4 GiB kept for training); set "
                    "data.packed_on_device=false to read it from host memory"
                )
        self._on_device_arrays[split] = torch.from_numpy(np.ascontiguousarray(packed.images)).to(
            device
        )

    def _seeded(self, dataset: Dataset) -> Dataset:
        return dataset  # the seeds travel to __getitems__ as they are; the draws happen there

    def _collate(self, split: str) -> Callable[[tuple], tuple]:
        return _identity  # PackedRows.__getitems__ makes the whole batch

    # --- on the device ----------------------------------------------------------------------
    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        images, targets, rows, draws = batch
        if not self._crops_in_loader:
            testing = self.trainer is not None and self.trainer.testing
            split = "train" if self._training else "test" if testing else "val"
            if images.numel() == 0 and len(rows) > 0:  # the array lives on the device
                images = self._on_device_arrays[split][rows]
            x = images.permute(0, 3, 1, 2)  # NHWC storage: a channels_last NCHW view
            images = self._crop(x, draws, split=split)
        return super().on_after_batch_transfer((images, targets), dataloader_idx)

    def _crop(
        self, x: torch.Tensor, draws: torch.Tensor, split: str, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The split's crops of a batch (N, 3, side, side), on the batch's device; with
        ``rows``, of ``x[rows]`` (x the whole split), cut without gathering the batch first
        where the crop allows it."""
        hp, plan = self.hparams, self.crop_plan
        crop = plan.crop(split)  # train_crop=none: training sees the evaluation crop
        training = crop != "center"
        if crop == "random_resized":
            if x.device.type == "cpu":  # torchvision's exact pixels, and faster there
                return batch_crops.resized_crops_per_image(x, draws, hp.image_size, rows)
            return batch_crops.resized_crops(x if rows is None else x[rows], draws, hp.image_size)
        if rows is not None and not (training and x.shape[-1] == plan.side):
            x, rows = x[rows], None  # a resize or an eval crop: the batch first
        x = v2.functional.resize(
            x, [plan.side, plan.side], antialias=True
        )  # nothing when x is that size
        if training:
            return batch_crops.crops_at(x, draws[:, 0], draws[:, 1], hp.image_size, rows)
        size = [hp.image_size, hp.image_size]
        if split == "test" and hp.test_views == "ten_crop":
            return torch.stack(v2.functional.ten_crop(x, size), dim=1)  # (N, 10, C, H, W)
        return v2.functional.center_crop(x, size).contiguous(memory_format=torch.channels_last)
