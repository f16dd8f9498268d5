"""``data=cifar10``: the official archive, packed once, served by PackedDataModule.

``prepare_data`` fetches ``cifar-10-python.tar.gz`` into ``archive_dir`` (torchvision's layout,
so a copy torchvision downloaded there is used as it is), reads it with torchvision and packs
it under ``root/val<val_size>-seed<split_seed>/``: ``val`` is ``val_size`` images drawn from the
50,000 training images by ``split_seed``, ``train`` the rest, ``test`` the official 10,000. From
then on it is a packed folder like any other: exact resume, DDP sharding, ten-crop and
``packed_on_device`` (154 MB for train and val) as data=packed has them.

The paper's crop for CIFAR-10 is ``train_crop=paper`` with ``eval_resize_ratio=32/24``: a
random 24 x 24 of the 32 x 32 image for training, the central 24 x 24 for evaluation.
An ``image_size`` above 32 upsamples on the device, for the ImageNet-sized variants.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from alexnet_lightning.config_checks import check_value
from alexnet_lightning.data.cifar10.archive import (
    OFFICIAL_MD5,
    OFFICIAL_URL,
    fetch_archive,
    read_archive,
)
from alexnet_lightning.data.manifest import read_manifest
from alexnet_lightning.data.packed.datamodule import PackedDataModule
from alexnet_lightning.data.packed.store import pack_arrays
from alexnet_lightning.errors import ConfigError
from alexnet_lightning.files import build_folder_once

log = logging.getLogger(__name__)

OFFICIAL_TRAIN_SIZE = 50_000
COMMAND = "python scripts/train.py experiment=cifar10"


def pack_folder(root: str | Path, val_size: int, split_seed: int) -> Path:
    return Path(root).expanduser() / f"val{val_size}-seed{split_seed}"


def _check_val_size(val_size: int, train_size: int) -> None:
    if val_size >= train_size:
        raise ConfigError(
            f"data.val_size={val_size} is invalid: it must be smaller than the {train_size} "
            "CIFAR-10 training images it is drawn from, e.g. 5000"
        )


def _is_packed(folder: Path, about: dict[str, Any]) -> bool:
    manifest = read_manifest(folder) if folder.is_dir() else None
    return manifest is not None and all(manifest.get(k) == v for k, v in about.items())


def ensure_cifar10_pack(
    root: str | Path,
    archive_dir: str | Path,
    url: str = OFFICIAL_URL,
    md5: str = OFFICIAL_MD5,
    val_size: int = 5000,
    split_seed: int = 0,
) -> Path:
    """The packed folder of this archive and split, built unless it is there; safe to call
    from several processes at once. Returns the folder."""
    folder = pack_folder(root, val_size, split_seed)
    about = {"source": url, "md5": md5, "val_size": val_size, "split_seed": split_seed}
    if _is_packed(folder, about):  # finished packs never change: no lock needed
        return folder
    if md5 == OFFICIAL_MD5:  # known before any download
        _check_val_size(val_size, OFFICIAL_TRAIN_SIZE)

    def build(building: Path) -> None:
        arrays = read_archive(fetch_archive(archive_dir, url, md5, COMMAND), md5)
        _check_val_size(val_size, len(arrays.train_labels))
        order = np.random.default_rng(split_seed).permutation(len(arrays.train_labels))
        val, train = np.sort(order[:val_size]), np.sort(order[val_size:])
        splits = {
            "train": (arrays.train_images[train], arrays.train_labels[train]),
            "val": (arrays.train_images[val], arrays.train_labels[val]),
            "test": (arrays.test_images, arrays.test_labels),
        }
        pack_arrays(building, splits, arrays.classes, **about)
        log.info("packed CIFAR-10 into %s: %s", folder, {k: len(v[1]) for k, v in splits.items()})

    # a pack of another archive (another md5) there is ours to replace
    return build_folder_once(folder, lambda f: _is_packed(f, about), build)


class Cifar10DataModule(PackedDataModule):
    """CIFAR-10 from its official archive (see the module docstring)."""

    # 32 px images: an AlexNet variant's 224 px crops are upsampled from them, on purpose
    upsamples = True

    def __init__(
        self,
        root: str,
        archive_dir: str,
        url: str = OFFICIAL_URL,
        md5: str = OFFICIAL_MD5,
        val_size: int = 5000,
        split_seed: int = 0,
        **options: Any,
    ) -> None:
        """``root``: where the packs go; ``archive_dir``: where the archive is (or is
        downloaded to); ``options``: PackedDataModule's (image_size, train_crop, ...)."""
        check_value("data.val_size", val_size)
        check_value("data.split_seed", split_seed)
        super().__init__(root=str(pack_folder(root, val_size, split_seed)), **options)
        self.source = {
            "root": str(root),
            "archive_dir": str(archive_dir),
            "url": str(url),
            "md5": str(md5),
            "val_size": int(val_size),
            "split_seed": int(split_seed),
        }
        self.hparams["cifar10"] = dict(self.source)  # the checkpoint records its source

    def prepare_data(self) -> None:
        ensure_cifar10_pack(**self.source)
