"""The JPEG folder source, ``ImageFolderDataModule`` (ImageNet subsets, Imagenette, the shapes
set): ``root/train/<class>/*`` and ``root/val/<class>/*``, decoded by loader workers or, with
``decode_on_device``, in whole batches on the device."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alexnet_lightning.config_checks import check_value
from alexnet_lightning.data.cache import DecodedImageCache
from alexnet_lightning.data.datamodule import ImageDataModule, splits_of_stage
from alexnet_lightning.data.decode import DecodeRandomResizedCrop, DecodeShorterSide
from alexnet_lightning.data.device_decode import (
    BatchDecoder,
    collate_encoded,
    is_encoded_batch,
    read_bytes,
)
from alexnet_lightning.data.folder import (
    FolderInfo,
    ImageFiles,
    collate_skipping_bad,
    inspect_folder,
)


class ImageFolderDataModule(ImageDataModule):
    """``root/train/<class>/*``, ``root/val/<class>/*`` and optional ``root/<test_split>``,
    decoded and cropped by the loader workers (with ``decode_on_device``, in batches on the
    device). ``options``: ImageDataModule's loading and augmentation arguments."""

    def __init__(
        self,
        root: str,
        on_bad_image: str = "warn",
        missing_hint: str | None = None,
        decoder: str = "auto",
        reduced_decode: bool = True,
        decode_on_device: bool = False,
        cache_decoded: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(root, **options)
        check_value("data.decoder", decoder)
        self.hparams.update(
            {
                "on_bad_image": str(on_bad_image),
                "decoder": str(decoder),
                "reduced_decode": bool(reduced_decode),
                "decode_on_device": bool(decode_on_device),
                "cache_decoded": bool(cache_decoded),
            }
        )
        self.missing_hint = missing_hint
        self._batch_decoders: dict[str, BatchDecoder] = {}

    def inspect(self) -> FolderInfo:
        if self._info is None:
            test = self.test_source(lambda name: (self.root / name).is_dir())
            splits = ("train", "val") + ((test,) if test != "val" else ())
            self._info = inspect_folder(
                self.root, self.hparams.num_classes, splits, missing_hint=self.missing_hint
            )
        return self._info

    def _split_dir(self, split: str) -> Path:
        if split == "test":
            return self.root / self.test_source(lambda name: (self.root / name).is_dir())
        return self.root / split

    def setup(self, stage: str | None = None) -> None:
        info = self.inspect()
        hp = self.hparams
        for split in splits_of_stage(stage):
            if split in self.datasets:
                continue
            files = ImageFiles(
                self._split_dir(split), info.classes, self.file_transform(split), hp.on_bad_image
            )
            if hp.cache_decoded and not self._on_device(split):
                paths = [files.file_path(i) for i in range(len(files))]
                files.cache = DecodedImageCache(paths, self._image_transform(split))
            self.datasets[split] = files

    def _on_device(self, split: str) -> bool:
        """Whether this split's files are decoded in batches on the device (ten-crop is not)."""
        hp = self.hparams
        return hp.decode_on_device and not (split == "test" and hp.test_views == "ten_crop")

    def _image_transform(self, split: str) -> Callable:
        """The split's crop, for PIL images or uint8 tensors (on any device)."""
        return self.crop_plan.image_transform(split, self.hparams.test_views == "ten_crop")

    def file_transform(self, split: str) -> Callable[[str], Any]:
        """What a loader worker does with one file: read its bytes (decode_on_device), or
        decode it at the smallest size the split's crop allows and crop it."""
        hp = self.hparams
        if self._on_device(split):
            return read_bytes
        options = {"decoder": hp.decoder, "reduced_decode": hp.reduced_decode}
        plan = self.crop_plan
        if plan.crop(split) == "random_resized":
            return DecodeRandomResizedCrop(plan.image_size, plan.scale, plan.ratio, **options)
        # every other crop resizes the shorter side to plan.side first
        return DecodeShorterSide(plan.side, self._image_transform(split), **options)

    def _collate(self, split: str) -> Callable[[list], Any]:
        return collate_encoded if self._on_device(split) else collate_skipping_bad

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if not (self.hparams.decode_on_device and is_encoded_batch(batch)):
            return batch
        training = self._training
        split = "train" if training else "val"
        if split not in self._batch_decoders:
            self._batch_decoders[split] = BatchDecoder(
                self.crop_plan, split, self.hparams.on_bad_image
            )
        return self._batch_decoders[split](batch, self._device())
