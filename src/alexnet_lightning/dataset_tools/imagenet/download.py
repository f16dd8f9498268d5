"""Download fast.ai's Imagenette / Imagewoof tarballs and turn them into a ready dataset folder.

Result: DEST/<archive stem>/ (e.g. imagenette2-320/) with train/<wnid>/, val/<wnid>/ and a
manifest.json, so `data.root` can point straight at it.
"""

from __future__ import annotations

import logging
import os
import shutil
import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path

from alexnet_lightning.data.manifest import (
    count_images,
    load_manifest,
    make_manifest,
    write_manifest,
)
from alexnet_lightning.dataset_tools.imagenet.classes import imagenet_names, is_wnid
from alexnet_lightning.dataset_tools.imagenet.extract import safe_extract
from alexnet_lightning.dataset_tools.imagenet.fetch import fetch, file_digest, part_path
from alexnet_lightning.errors import ConfigError, DataError

log = logging.getLogger(__name__)

BASE_URL = "https://s3.amazonaws.com/fast-ai-imageclas/"
DATASETS = {"imagenette": "imagenette2", "imagewoof": "imagewoof2"}
SIZES = {"full": "", "320": "-320", "160": "-160"}


@dataclass(frozen=True)
class Checksum:
    """What is known about a published archive. `head_md5` is fast.ai's own check: the MD5 of
    the first MiB only (fastai/data/checks.txt); `md5` covers the whole file."""

    md5: str | None = None
    size: int | None = None
    head_md5: str | None = None


# Imagenette: full-file MD5s as published in torchvision.datasets.Imagenette.
# Imagewoof: size + first-MiB MD5 from fastai's checks.txt (no full-file hash is published).
KNOWN_CHECKSUMS = {
    "imagenette2.tgz": Checksum(md5="fe2fc210e6bb7c5664d602c3cd71e612"),
    "imagenette2-320.tgz": Checksum(md5="3df6f0d01a2c9592104656642f5e78a3"),
    "imagenette2-160.tgz": Checksum(md5="e793b78cc4c9e9a4ccc0c1155377a412"),
    "imagewoof2.tgz": Checksum(size=1343715595, head_md5="2cc1c1e36e20cb6fd24ffb978edcb487"),
    "imagewoof2-320.tgz": Checksum(size=328387740, head_md5="7a1fd92672a559a85de76e4810a20c21"),
    "imagewoof2-160.tgz": Checksum(size=92612825, head_md5="3559b194123981a540b87132dbda412f"),
}


def archive_name(dataset: str, size: str) -> str:
    if dataset not in DATASETS:
        raise ConfigError(f"--dataset must be one of {sorted(DATASETS)}, got {dataset!r}")
    size = str(size).removesuffix("px")
    if size not in SIZES:
        raise ConfigError(f"--size must be one of {list(SIZES)}, got {size!r}")
    return f"{DATASETS[dataset]}{SIZES[size]}.tgz"


def _stem(name: str) -> str:
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _verify(path: Path, url: str, expected: Checksum) -> None:
    """Raise DataError (and delete the file) if it does not match what is expected."""
    problems = []
    size = path.stat().st_size
    if expected.size is not None and size != expected.size:
        problems.append(f"size {size}, expected {expected.size}")
    if expected.md5 and (got := file_digest(path, "md5")) != expected.md5:
        problems.append(f"md5 {got}, expected {expected.md5}")
    if expected.head_md5 and (got := file_digest(path, "md5", 1 << 20)) != expected.head_md5:
        problems.append(f"first-MiB md5 {got}, expected {expected.head_md5}")
    if problems:
        path.unlink()
        raise DataError(
            f"download of {url} is corrupt ({'; '.join(problems)}) and was deleted; run again. "
            "If the published file changed, pass --skip-checksum"
        )


def _verify_sha256(path: Path, url: str, sha256: str) -> None:
    if (got := file_digest(path, "sha256")) != sha256.lower():
        path.unlink()
        raise DataError(
            f"download of {url} is corrupt (sha256 {got}, expected {sha256}) and was deleted"
        )


def _dataset_root(extracted: Path) -> Path:
    """The folder holding train/ and val/: the archive's single top folder, or the whole."""
    entries = [p for p in extracted.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return extracted


def _write_dataset_manifest(root: Path, url: str, archive: str) -> None:
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise DataError(f"{archive} has no {split}/ folder; is it an Imagenette archive?")
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir() and is_wnid(p.name))
    if not classes:
        raise DataError(f"{archive} has no train/<wnid>/ class folders")
    shipped = imagenet_names()
    manifest = make_manifest(
        classes=classes,
        names=[shipped.get(w, w) for w in classes],
        counts={split: count_images(root / split, classes) for split in ("train", "val")},
        source=url,
        layout="fastai",
        options={"archive": archive},
    )
    write_manifest(root, manifest)


def download_imagenette(
    dataset: str = "imagenette",
    size: str = "320",
    dest: str | Path = "data",
    url: str | None = None,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    skip_checksum: bool = False,
    keep_archive: bool = False,
    progress: bool = True,
) -> Path:
    """Download, check and extract one fast.ai archive; returns the dataset folder.

    The built-in checksums apply to the default URL only; `md5` / `sha256` add (or, with a
    custom `url`, give) the expected digest. Reruns resume a partial download and return at
    once when the folder is already complete.
    """
    name = archive_name(dataset, size)
    if url is not None:
        name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name or name
    url = url or BASE_URL + name
    dest = Path(dest).expanduser().resolve()
    final = dest / _stem(name)
    if load_manifest(final) is not None:
        log.info("%s is already complete", final)
        return final
    if final.exists():
        raise DataError(f"{final} exists but has no manifest.json; delete it and rerun")
    dest.mkdir(parents=True, exist_ok=True)

    archive = dest / name
    if not archive.is_file():
        # The archive is only renamed into place after its checks, so it can be trusted.
        fetch(url, archive, progress=progress)
        part = part_path(archive)
        if not skip_checksum:
            # A custom URL may serve another file: only the caller's digests apply to it.
            known = KNOWN_CHECKSUMS.get(name) if url == BASE_URL + name else None
            expected = known or Checksum()
            if md5:
                expected = replace(expected, md5=md5.lower())
            _verify(part, url, expected)
            if sha256:
                _verify_sha256(part, url, sha256)
        os.replace(part, archive)

    staging = dest / f".{final.name}.extracting"
    shutil.rmtree(staging, ignore_errors=True)  # leftovers of an interrupted extraction
    try:
        safe_extract(archive, staging)
        root = _dataset_root(staging)
        _write_dataset_manifest(root, url, name)
        os.replace(root, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not keep_archive:
        archive.unlink()
    return final
