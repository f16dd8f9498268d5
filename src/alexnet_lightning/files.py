"""Atomic file writes: a reader, a crash or a power cut never leaves half a file under its name.

Every file the project writes for a later reader (checkpoints, metrics.json, manifests, packed
arrays, subset images, resume markers) goes through ``replacing``: the content is written to a
unique hidden temp name beside the target (``.<name>.<random>.tmp``; unique, so parallel writers
never collide), fsynced, renamed over the target with ``os.replace`` (atomic within one file
system) and the folder fsynced (the rename is durable only once the folder entry is on disk).
A failed write deletes its temp file; one killed mid-write leaves it, never the target, torn.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from filelock import FileLock

TEMP_SUFFIX = ".tmp"


def temp_path_for(final: Path) -> Path:
    """A unique hidden sibling of ``final`` (same folder, so the rename stays atomic)."""
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temp path to create; on success it replaces ``path`` durably, on error it goes.

    For writers that take a path (PIL's ``Image.save``, ``shutil.copyfile``, ``os.link``).
    A symlink is renamed as it is (its target is someone else's file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        if not tmp.is_symlink():
            _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
    finally:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(file)`` on a binary file that becomes ``path`` atomically; returns path.

    E.g. ``write_atomic(p, lambda f: torch.save(obj, f))`` or ``lambda f: np.save(f, array)``.
    """
    path = Path(path)
    with replacing(path) as tmp, open(tmp, "wb") as file:
        write(file)
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    return write_atomic(path, lambda file: file.write(data))


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    return write_bytes(path, text.encode(encoding))


def write_json(path: str | Path, data: Any, *, end: str = "", **dumps: Any) -> Path:
    """``json.dumps(data, **dumps) + end`` as UTF-8, atomically (``dumps``: indent, sort_keys,
    ensure_ascii: each kind of file has its own layout). NaN and infinities become null:
    JSON has no such numbers, and readers other than Python's reject them."""
    return write_text(path, json.dumps(_finite(data), **dumps) + end)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def build_folder_once(
    folder: Path,
    complete: Callable[[Path], bool],
    build: Callable[[Path], Any],
    replaceable: Callable[[Path], Any] | None = None,
) -> Path:
    """``folder``, built by ``build(<a new folder>)`` unless ``complete(folder)``; safe when
    several processes (DDP ranks, sweep jobs) ask for it at once. A finished folder never
    changes, so it is read without a lock; a builder takes an exclusive lock beside it, builds
    into a hidden partial folder and renames that into place (a folder already there goes
    aside first, comes back if the rename fails, and is deleted after). ``replaceable(folder)``
    runs under the lock before a build and raises when what is there must not be replaced.
    Leftovers of killed builders are deleted under the lock."""
    folder = Path(folder)
    if complete(folder):
        return folder
    parent, name = folder.parent, folder.name
    parent.mkdir(parents=True, exist_ok=True)
    with FileLock(parent / f".{name}.lock"):
        if complete(folder):  # another process built it while this one waited
            return folder
        if replaceable is not None:
            replaceable(folder)
        for pattern in (f".{name}.partial-*", f".{name}.old-*"):
            for leftover in parent.glob(pattern):
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
        token = uuid.uuid4().hex[:12]
        partial = parent / f".{name}.partial-{token}"
        try:
            build(partial)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        if not folder.exists():
            os.rename(partial, folder)
            return folder
        old = parent / f".{name}.old-{token}"
        os.rename(folder, old)  # each rename is atomic: the old folder or the new, never half
        try:
            os.rename(partial, folder)
        except BaseException:
            os.rename(old, folder)
            shutil.rmtree(partial, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
    return folder
