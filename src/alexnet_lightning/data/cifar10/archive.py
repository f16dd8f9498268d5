"""The official CIFAR-10 python archive: fetched and checked with torchvision's download and md5
helpers, read with torchvision's ``CIFAR10`` reader.

A download goes to a hidden ``.part`` name and becomes the archive only once its md5 matches, so
an interrupted one is never mistaken for the archive. An archive whose md5 does not match (a
corrupt download, a file put there by hand) is renamed aside to ``<archive>.corrupt`` and
nothing in it is used; the message says so, and the run that finds it downloads nothing.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torchvision.datasets import CIFAR10
from torchvision.datasets.utils import check_integrity, download_url, extract_archive

from alexnet_lightning.errors import DataError

log = logging.getLogger(__name__)

OFFICIAL_URL = CIFAR10.url
OFFICIAL_MD5 = CIFAR10.tgz_md5
CORRUPT_SUFFIX = ".corrupt"


@dataclass
class Cifar10Arrays:
    """The archive's contents: uint8 N x 32 x 32 x 3 images (HWC, as the pack stores them),
    int64 labels, and the class names in label order."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: list[str]


def archive_path(archive_dir: str | Path, url: str) -> Path:
    return Path(archive_dir).expanduser() / Path(url.split("?")[0]).name


def fetch_archive(archive_dir: str | Path, url: str, md5: str, command: str) -> Path:
    """The archive at ``archive_dir``, downloaded from ``url`` unless it is there already;
    DataError when it cannot be had or fails its md5. ``command`` is what to run again."""
    path = archive_path(archive_dir, url)
    if path.is_file():
        if not check_integrity(path, md5):
            raise _set_aside(path, md5, url, command, "found")
        return path
    part = path.with_name(f".{path.name}.part")
    log.info("downloading CIFAR-10 from %s to %s", url, path)
    try:
        download_url(url, str(path.parent), filename=part.name, md5=md5)
    except (urllib.error.URLError, OSError, ValueError) as err:
        part.unlink(missing_ok=True)
        raise DataError(
            f"cannot download CIFAR-10 from {url} ({getattr(err, 'reason', err)}); on a machine "
            f"with internet run `{command}`, or fetch it yourself (curl -L -o {path} {url}) "
            "and run again"
        ) from None
    except RuntimeError:  # torchvision: the download's md5 does not match
        part.rename(path)
        raise _set_aside(path, md5, url, command, "downloaded") from None
    part.rename(path)
    return path


def _set_aside(path: Path, md5: str, url: str, command: str, how: str) -> DataError:
    kept = path.with_name(path.name + CORRUPT_SUFFIX)
    for n in itertools.count(1):  # an earlier one set aside stays as it is
        if not kept.exists():
            break
        kept = path.with_name(f"{path.name}{CORRUPT_SUFFIX}.{n}")
    path.rename(kept)
    return DataError(
        f"the {how} CIFAR-10 archive {path} fails its md5 check (expected {md5}); nothing in "
        f"it was used and it was moved to {kept}; run `{command}` again to download "
        f"{url} afresh, or put the official archive at {path}"
    )


def read_archive(path: Path, md5: str) -> Cifar10Arrays:
    """Extract the archive into a temporary folder beside it and read it with torchvision.

    torchvision checks each extracted batch file against the official archive's md5s; another
    archive (a test's, say) is covered by its own archive md5 instead."""
    with tempfile.TemporaryDirectory(prefix=".cifar10-extract-", dir=path.parent) as tmp:
        try:
            extract_archive(str(path), tmp)
            train, test = _reader(tmp, True, md5), _reader(tmp, False, md5)
        except (RuntimeError, OSError, EOFError, ValueError, KeyError) as err:
            raise DataError(
                f"{path} passed its md5 check but is not a CIFAR-10 python archive ({err}); "
                "point data.url and data.md5 at the official archive"
            ) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return Cifar10Arrays(
        np.ascontiguousarray(train.data),
        np.asarray(train.targets, dtype=np.int64),
        np.ascontiguousarray(test.data),
        np.asarray(test.targets, dtype=np.int64),
        [str(c) for c in train.classes],
    )


def _reader(root: str, train: bool, md5: str) -> CIFAR10:
    reader = CIFAR10.__new__(CIFAR10)
    if md5 != OFFICIAL_MD5:  # no published per-file md5s for another archive
        reader.train_list = [[name, None] for name, _ in CIFAR10.train_list]
        reader.test_list = [[name, None] for name, _ in CIFAR10.test_list]
        reader.meta = {**CIFAR10.meta, "md5": None}
    CIFAR10.__init__(reader, root, train=train, download=False)
    return reader
