"""manifest.json: the description of a built or downloaded dataset folder.

The training code reads `classes` (sorted wnids = class indices) and `names` from it. Builders
write it last, so a folder with a manifest is complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alexnet_lightning.errors import DataError
from alexnet_lightning.files import write_json

MANIFEST_NAME = "manifest.json"
FORMAT = 1
IMAGE_SUFFIXES = frozenset({".jpeg", ".jpg", ".png"})


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def load_manifest(root: str | Path) -> dict[str, Any] | None:
    """The manifest of a dataset folder, or None when it has none (not built, or unfinished)."""
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {path}: {err}; delete it and rebuild the dataset") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path} is not a format-{FORMAT} manifest; rebuild the dataset")
    classes, names = manifest.get("classes"), manifest.get("names")
    if not isinstance(classes, list) or not isinstance(names, list) or len(classes) != len(names):
        raise DataError(f"{path} needs equally long 'classes' and 'names' lists; rebuild it")
    return manifest


def write_manifest(root: str | Path, manifest: dict[str, Any]) -> Path:
    path = Path(root) / MANIFEST_NAME
    return write_json(path, manifest, indent=2, ensure_ascii=False, end="\n")


def count_images(split_dir: Path, classes: list[str]) -> dict[str, int]:
    """Images per class in an ImageFolder split (`split_dir/<wnid>/*`)."""
    counts = {}
    for wnid in classes:
        folder = split_dir / wnid
        images = folder.iterdir() if folder.is_dir() else ()
        counts[wnid] = sum(1 for p in images if is_image_file(p))
    return counts


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
