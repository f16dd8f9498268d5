"""A dataset folder's files: which are images, how many per class, and its manifest.json.

Every dataset folder this project builds or downloads (shapes, ImageNet subsets, Imagenette,
packed) carries a ``manifest.json``, written last, so a folder with one is complete. The
training code reads its ``classes`` (class folders = class indices) and readable ``names``.
ImageFolder trees (shapes, subsets, downloads) use format 1 (``make_manifest``); the packed
store its own (data/packed/store.py); all are read and written here.

One rule says what an image file is, for every lister and counter: an extension torchvision's
ImageFolder loads (any case), and not a hidden name (temp files of an interrupted write,
macOS ``._`` companions).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

from alexnet_lightning.errors import DataError
from alexnet_lightning.files import write_json

MANIFEST_NAME = "manifest.json"
FORMAT = 1  # of an ImageFolder tree's manifest
IMAGE_EXTENSIONS: tuple[str, ...] = IMG_EXTENSIONS


def is_image_file(path: str | os.PathLike) -> bool:
    name = os.path.basename(path)
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")


def list_images(split_dir: str | Path, classes: list[str]) -> list[tuple[str, int]]:
    """(path, class index) of every image under ``split_dir/<class>/``, sorted, ImageFolder's
    way (subfolders of a class folder included)."""
    class_to_idx = {c: i for i, c in enumerate(classes)}
    return make_dataset(str(split_dir), class_to_idx, is_valid_file=is_image_file)


def count_images(split_dir: str | Path, classes: list[str]) -> dict[str, int]:
    """Images directly in each ``split_dir/<class>/`` (0 for a missing folder)."""
    counts = {}
    for cls in classes:
        try:
            with os.scandir(Path(split_dir) / cls) as entries:
                counts[cls] = sum(1 for e in entries if is_image_file(e.name) and e.is_file())
        except FileNotFoundError:
            counts[cls] = 0
    return counts


def read_manifest(
    root: str | Path, fix: str = "delete it and rebuild the dataset"
) -> dict[str, Any] | None:
    """The manifest of a dataset folder, or None when it has none (not built, or unfinished).

    An unreadable one raises DataError naming the file and ``fix``.
    """
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {path} ({err}); {fix}") from None
    if not isinstance(manifest, dict):
        raise DataError(f"{path} is not a JSON object; {fix}")
    return manifest


def load_manifest(root: str | Path) -> dict[str, Any] | None:
    """A format-1 (ImageFolder tree) manifest, checked; None when the folder has none."""
    manifest = read_manifest(root)
    if manifest is None:
        return None
    path = Path(root) / MANIFEST_NAME
    if manifest.get("format") != FORMAT:
        raise DataError(f"{path} is not a format-{FORMAT} manifest; rebuild the dataset")
    classes, names = manifest.get("classes"), manifest.get("names")
    if not isinstance(classes, list) or not isinstance(names, list) or len(classes) != len(names):
        raise DataError(f"{path} needs equally long 'classes' and 'names' lists; rebuild it")
    return manifest


def write_manifest(root: str | Path, manifest: dict[str, Any]) -> Path:
    """Atomically, two-space indented, non-ASCII names kept as they are."""
    return write_json(Path(root) / MANIFEST_NAME, manifest, indent=2, ensure_ascii=False, end="\n")


def make_manifest(
    *,
    classes: list[str],
    names: list[str],
    counts: dict[str, dict[str, int]],
    source: str,
    layout: str,
    options: dict[str, Any] | None = None,
    skipped: list[str] | None = None,
) -> dict[str, Any]:
    """The format-1 manifest of a built or downloaded ImageNet-style tree."""
    return {
        "format": FORMAT,
        "classes": classes,
        "names": names,
        "counts": counts,
        "source": source,
        "layout": layout,
        "options": options or {},
        "skipped": skipped or [],
    }
