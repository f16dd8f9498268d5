"""ImageFolder datasets: checking a folder tree, listing its samples, reading images robustly."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset, default_collate
from torchvision.datasets.folder import find_classes

from alexnet_lightning.config_checks import check_value
from alexnet_lightning.data.manifest import (
    IMAGE_EXTENSIONS,
    count_images,
    list_images,
    read_manifest,
)
from alexnet_lightning.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class FolderInfo:
    """What a dataset root holds: class folder names, readable names, and split sizes."""

    root: Path
    classes: list[str]
    names: list[str]
    split_sizes: dict[str, int] = field(default_factory=dict)


class PackedPaths:
    """File paths packed into two numpy arrays.

    A Python list of a million path strings is copied page by page into every loader worker as
    reference counts are touched (copy-on-read); one bytes buffer plus offsets is never written,
    so workers share it with the parent.
    """

    def __init__(self, paths: list[str]) -> None:
        encoded = [p.encode() for p in paths]
        self._offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=self._offsets[1:])
        self._buffer = np.frombuffer(b"".join(encoded), dtype=np.uint8)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, index: int) -> str:
        start, end = self._offsets[index], self._offsets[index + 1]
        return self._buffer[start:end].tobytes().decode()


def inspect_folder(
    root: str | Path,
    num_classes: int | None,
    splits: tuple[str, ...],
    missing_hint: str | None = None,
) -> FolderInfo:
    """Check an ImageFolder tree before anything heavy starts; raise one DataError if it is off.

    Every split must hold the same class folders, each with at least one image, and their
    number must equal ``num_classes`` (None: whatever the folders hold).
    ``missing_hint`` (e.g. the command that builds the dataset) is added when root is missing.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        fix = missing_hint or (
            "set data.root to a folder with train/<class>/ and val/<class>/ image folders"
        )
        raise DataError(f"dataset folder {root} does not exist; {fix}")
    classes: list[str] | None = None
    sizes: dict[str, int] = {}
    for split in splits:
        split_dir = root / split
        if not split_dir.is_dir():
            raise DataError(
                f"{split_dir} is missing; data.root must hold train/<class>/ and val/<class>/"
            )
        try:
            split_classes, _ = find_classes(str(split_dir))
        except FileNotFoundError:
            raise DataError(
                f"{split_dir} has no class folders; put images in {split_dir}/<class>/"
            ) from None
        if classes is None:
            classes = split_classes
        elif split_classes != classes:
            differ = sorted(set(split_classes) ^ set(classes))
            raise DataError(
                f"{split_dir} has other class folders than {root / splits[0]} "
                f"(differing: {', '.join(differ[:5])}); every split needs the same classes"
            )
        counts = count_images(split_dir, split_classes)
        empty = [c for c, n in counts.items() if n == 0]
        if empty:
            raise DataError(
                f"class folder {split_dir / empty[0]} holds no images "
                f"(extensions {', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder"
            )
        sizes[split] = sum(counts.values())
    assert classes is not None
    if num_classes is not None and len(classes) != num_classes:
        raise DataError(
            f"data.num_classes={num_classes} but {root / splits[0]} has {len(classes)} class "
            f"folders; set data.num_classes={len(classes)} or fix the folders"
        )
    return FolderInfo(
        root=root, classes=classes, names=_class_names(root, classes), split_sizes=sizes
    )


def _class_names(root: Path, classes: list[str]) -> list[str]:
    manifest = read_manifest(root)
    if manifest and manifest.get("classes") == classes and manifest.get("names"):
        return [str(n) for n in manifest["names"]]
    return list(classes)


def load_rgb(path: str) -> Image.Image:
    """Open any image PIL knows as RGB, whatever its extension says.

    ImageNet holds CMYK and greyscale JPEGs and a PNG named .JPEG; PIL sniffs the content, and
    convert("RGB") handles every mode. load() forces the decode so a truncated file fails here.
    """
    with Image.open(path) as image:
        image.load()
        return image.convert("RGB")


def report_bad_image(path: str, err: Exception, on_bad_image: str, count_note: str) -> None:
    """Stop with the file's path (``raise``) or warn and let the caller skip it (``warn``)."""
    if on_bad_image == "raise":
        raise DataError(
            f"cannot read image {path} ({err}); replace or delete it, or set "
            "data.on_bad_image=warn to skip unreadable images"
        ) from None
    log.warning("skipping unreadable image %s (%s); %s skipped", path, err, count_note)


class ImageFiles(Dataset):
    """(uint8 image tensor, class index) pairs from one split of an ImageFolder tree.

    ``transform`` takes the file's path (it decodes: see ``data.decode``) and returns the tensor.

    An unreadable image is skipped with a warning naming it (``on_bad_image="warn"``, the
    collate function drops it) or stops the run with its path (``"raise"``).
    """

    def __init__(
        self,
        split_dir: str | Path,
        classes: list[str],
        transform: Callable[[str], torch.Tensor],
        on_bad_image: str = "warn",
    ) -> None:
        check_value("data.on_bad_image", on_bad_image)
        self.split_dir = Path(split_dir)
        samples = list_images(self.split_dir, classes)
        self.paths = PackedPaths([os.path.relpath(p, self.split_dir) for p, _ in samples])
        self.targets = np.array([t for _, t in samples], dtype=np.int64)
        self.transform = transform
        self.on_bad_image = on_bad_image
        self.skipped = 0
        # Set by the DataModule (data.cache_decoded): decoded pixels kept, cropped per read.
        self.cache: Callable[[int, str], torch.Tensor] | None = None

    def __len__(self) -> int:
        return len(self.targets)

    def file_path(self, index: int) -> str:
        return str(self.split_dir / self.paths[index])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int] | None:
        path = self.file_path(index)
        try:
            pixels = self.cache(index, path) if self.cache is not None else self.transform(path)
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
            self.skipped += 1
            report_bad_image(path, err, self.on_bad_image, f"{self.skipped} in this process")
            return None
        return pixels, int(self.targets[index])


def collate_skipping_bad(batch: list) -> tuple[torch.Tensor, torch.Tensor]:
    """default_collate without the samples ImageFiles could not read."""
    kept = [sample for sample in batch if sample is not None]
    if not kept:
        return torch.empty(0, dtype=torch.uint8), torch.empty(0, dtype=torch.int64)
    return default_collate(kept)
