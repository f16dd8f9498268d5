"""The packed dataset on disk, and reading it back.

A packed folder holds, per split, ``<split>_images.npy`` (uint8, N x side x side x 3, the paper's
preprocessing: shorter side resized to ``side``, central square) and ``<split>_labels.npy``
(int64, N), plus ``manifest.json`` (written last: a folder with one is complete). numpy maps the
image array without reading it, so a loader touches only the rows of its batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alexnet_lightning.data.manifest import MANIFEST_NAME, read_manifest, write_manifest
from alexnet_lightning.errors import DataError
from alexnet_lightning.files import write_atomic

FORMAT = "packed-1"
PACK_HINT = (
    "pack an ImageFolder tree with: python scripts/pack_dataset.py --source <tree> --dest {root}"
)


def images_path(root: Path, split: str) -> Path:
    return root / f"{split}_images.npy"


def labels_path(root: Path, split: str) -> Path:
    return root / f"{split}_labels.npy"


@dataclass
class PackedInfo:
    """What a packed folder holds (from its manifest)."""

    root: Path
    classes: list[str]
    names: list[str]
    side: int
    counts: dict[str, int]
    manifest: dict[str, Any]


def read_packed_manifest(root: str | Path, num_classes: int | None = None) -> PackedInfo:
    """Check a packed folder and return its manifest; one DataError naming the fix if it is off."""
    root = Path(root).expanduser()
    hint = PACK_HINT.format(root=root)
    path = root / MANIFEST_NAME
    if not root.is_dir():
        raise DataError(f"packed dataset folder {root} does not exist; {hint}")
    manifest = read_manifest(root, fix=hint)
    if manifest is None:
        raise DataError(f"{root} holds no packed dataset (no {MANIFEST_NAME}); {hint}")
    if manifest.get("format") != FORMAT:
        raise DataError(
            f"{path} is not the manifest of a packed dataset (format {FORMAT}); "
            f"for an ImageFolder tree use data=imagefolder, or {hint}"
        )
    info = PackedInfo(
        root=root,
        classes=[str(c) for c in manifest["classes"]],
        names=[str(n) for n in manifest["names"]],
        side=int(manifest["side"]),
        counts={str(k): int(v) for k, v in manifest["counts"].items()},
        manifest=manifest,
    )
    if num_classes is not None and len(info.classes) != num_classes:
        raise DataError(
            f"data.num_classes={num_classes} but the packed dataset {root} has "
            f"{len(info.classes)} classes; set data.num_classes={len(info.classes)} or null"
        )
    for split in ("train", "val"):
        if split not in info.counts:
            raise DataError(f"{root} has no packed {split} split; {hint}")
    return info


class PackedSplit:
    """One split of a packed folder: the mapped image array and its labels."""

    def __init__(self, root: Path, split: str, expected: int | None = None) -> None:
        self.root, self.split = root, split
        self._pixels: torch.Tensor | None = None
        try:
            self.images = np.load(images_path(root, split), mmap_mode="r")
            self.labels = np.load(labels_path(root, split))
        except (OSError, ValueError) as err:
            raise DataError(
                f"cannot read the packed {split} split of {root} ({err}); "
                + PACK_HINT.format(root=root)
            ) from None
        if self.images.ndim != 4 or self.images.dtype != np.uint8 or self.images.shape[-1] != 3:
            raise DataError(f"{images_path(root, split)} is not N x side x side x 3 uint8; repack")
        if len(self.labels) != len(self.images) or (
            expected is not None and len(self.images) != expected
        ):
            raise DataError(
                f"{root}: the {split} images, labels and manifest disagree on the count; repack"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def pixels(self) -> torch.Tensor:
        """The whole split as an (N, 3, side, side) uint8 tensor over the mapped file (a
        channels_last view): indexing it reads only what is indexed."""
        if self._pixels is None:
            # copy-on-write mapping: torch wants a writable array; nothing is ever written
            array = np.load(images_path(self.root, self.split), mmap_mode="c")
            self._pixels = torch.from_numpy(array).permute(0, 3, 1, 2)
        return self._pixels

    def __getstate__(self) -> dict:
        # a spawned loader worker maps the file again rather than receive its pixels
        return {**self.__dict__, "_pixels": None}


def pack_arrays(
    dest: str | Path,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    classes: list[str],
    names: list[str] | None = None,
    **about: Any,
) -> Path:
    """Write images already decoded (split -> (uint8 N x side x side x 3, int64 N labels)) as a
    pack at ``dest``: the arrays, then the manifest (with ``about``, e.g. the source) last."""
    dst = Path(dest).expanduser()
    dst.mkdir(parents=True, exist_ok=True)
    sides = {images.shape[1:] for images, _ in splits.values()}
    if len(sides) != 1 or any(images.dtype != np.uint8 for images, _ in splits.values()):
        raise ValueError(f"the splits must be uint8 N x side x side x 3 alike, got {sides}")
    for split, (images, labels) in splits.items():
        write_atomic(images_path(dst, split), lambda file, a=images: np.save(file, a))
        targets = np.asarray(labels, dtype=np.int64)
        write_atomic(labels_path(dst, split), lambda file, a=targets: np.save(file, a))
    manifest = {
        "format": FORMAT,
        "classes": list(classes),
        "names": list(names or classes),
        "side": int(next(iter(sides))[0]),
        "counts": {split: len(labels) for split, (_, labels) in splits.items()},
        **about,
    }
    write_manifest(dst, manifest)
    return dst
