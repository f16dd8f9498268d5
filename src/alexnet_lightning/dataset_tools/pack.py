"""Pack an ImageFolder tree: decode every image once, store it as uint8 side x side x 3.

Each split is decoded with the paper's preprocessing (shorter side to ``side``, antialiased;
central side x side), with the same decoding the per-image loader uses
(``DecodeShorterSide``), so a packed image is bitwise the image the per-image path crops from.

Worker processes write their rows straight into the mapped ``.npy`` file, so memory stays
bounded whatever the dataset's size. Resumable: a per-split bitmap (``.<split>.done.npy``)
records the rows written (flushed after their pixels), a rerun only does the rest, and
``manifest.json`` is written last. Unreadable files are skipped and listed with the reason;
their rows are squeezed out at the end of the split.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import UnidentifiedImageError
from torchvision.transforms import v2

from alexnet_lightning.data.decode import DecodeShorterSide
from alexnet_lightning.data.folder import inspect_folder
from alexnet_lightning.data.manifest import MANIFEST_NAME, list_images, write_manifest
from alexnet_lightning.data.packed.store import (
    FORMAT,
    images_path,
    labels_path,
)
from alexnet_lightning.dataset_tools.builds import claim_dest, refuse_overlap, run_jobs
from alexnet_lightning.errors import ConfigError, DataError
from alexnet_lightning.files import write_atomic, write_json

log = logging.getLogger(__name__)

STATE_NAME = ".pack.json"  # the options a partly packed dest was started with
PENDING, WRITTEN, SKIPPED = 0, 1, 2
CHUNK = 64  # rows per worker task: keeps the bar moving and the pool balanced


def pack_dataset(
    source: str | Path,
    dest: str | Path,
    side: int = 256,
    *,
    workers: int | None = None,
    progress: bool = True,
    names: list[str] | None = None,
) -> Path:
    """Pack ``source`` (train/, val/, optional test/ ImageFolder splits) into ``dest``.

    ``names``: readable class names (default: those of the source's manifest.json, else the
    folder names). Returns ``dest``; a finished dest with the same options is left as it is.
    """
    src, dst = Path(source).expanduser().resolve(), Path(dest).expanduser().resolve()
    if side < 1:
        raise ConfigError(f"--side must be >= 1, got {side}")
    refuse_overlap(src, dst)
    splits = [s for s in ("train", "val", "test") if (src / s).is_dir()]
    if "train" not in splits or "val" not in splits:
        raise DataError(
            f"--source {src} is not an ImageFolder tree: it needs train/<class>/ and "
            "val/<class>/ image folders"
        )
    info = inspect_folder(src, None, tuple(splits))
    if names is not None and len(names) != len(info.classes):
        raise ConfigError(f"{len(names)} class names for {len(info.classes)} classes")
    state = {"format": FORMAT, "source": str(src), "side": side, "splits": splits}
    if claim_dest(dst, STATE_NAME, state) and (dst / MANIFEST_NAME).is_file():
        return dst  # this exact pack, finished
    workers = workers or os.cpu_count() or 1
    counts, skipped = {}, []
    for split in splits:
        files = list_images(src / split, info.classes)
        kept, bad = _pack_split(dst, split, files, side, workers, progress)
        counts[split] = kept
        skipped += [{"path": str(p), "reason": r} for p, r in bad]
    manifest = {
        "format": FORMAT,
        "classes": info.classes,
        "names": names or info.names,
        "side": side,
        "counts": counts,
        "source": str(src),
        "skipped": skipped,
    }
    write_manifest(dst, manifest)
    return dst


def _pack_split(
    dst: Path,
    split: str,
    files: list[tuple[str, int]],
    side: int,
    workers: int,
    progress: bool,
) -> tuple[int, list[tuple[str, str]]]:
    """Fill the split's arrays; returns how many images it kept and the skipped files."""
    images, labels = images_path(dst, split), labels_path(dst, split)
    done_path, bad_path = dst / f".{split}.done.npy", dst / f".{split}.skipped.json"
    if (dst / f".{split}.squeezing").exists():
        # interrupted while moving rows: the bitmap no longer describes the array; start over
        for path in (images, done_path, bad_path, dst / f".{split}.squeezing"):
            path.unlink(missing_ok=True)
    n = len(files)
    if done_path.is_file() and not images.is_file():
        done_path.unlink()
    if not done_path.is_file():
        np.lib.format.open_memmap(images, mode="w+", dtype=np.uint8, shape=(n, side, side, 3))
        np.save(done_path, np.zeros(n, dtype=np.uint8))
    done = np.load(done_path, mmap_mode="r+")
    if len(done) != n:  # the source changed since: its rows no longer match
        raise DataError(
            f"{split} of the source now has {n} images, the unfinished pack in {dst} expected "
            f"{len(done)}; delete {dst} and pack again"
        )
    bad: dict[str, str] = json.loads(bad_path.read_text()) if bad_path.is_file() else {}
    todo = [row for row in range(n) if done[row] == PENDING]

    def record(job: tuple, results: list[tuple[int, str | None]]) -> None:
        new_bad = {files[row][0]: reason for row, reason in results if reason is not None}
        if new_bad:  # the reasons reach the disk before the bitmap says "skipped"
            bad.update(new_bad)
            write_json(bad_path, bad, indent=1)
        for row, reason in results:
            done[row] = WRITTEN if reason is None else SKIPPED
        done.flush()

    jobs = [
        (str(images), [(row, files[row][0]) for row in todo[i : i + CHUNK]], side)
        for i in range(0, len(todo), CHUNK)
    ]
    run_jobs(
        pack_rows,
        jobs,
        record=record,
        workers=workers,
        label=split,
        total=n,
        done=n - len(todo),
        progress=progress,
        initializer=_init_worker,
    )
    for path, reason in bad.items():
        log.warning("skipped %s: %s", path, reason)
    keep = np.flatnonzero(np.asarray(done) == WRITTEN)
    if len(keep) < n:
        _squeeze(dst, split, keep)
    if not labels.is_file() or len(np.load(labels)) != len(keep):
        targets = np.array([files[row][1] for row in keep], dtype=np.int64)
        write_atomic(labels, lambda file: np.save(file, targets))
    return len(keep), sorted(bad.items())


def _init_worker() -> None:
    torch.set_num_threads(1)  # one process per core already


def preprocess(side: int) -> Callable[[str], torch.Tensor]:
    """path -> uint8 (3, side, side): the paper's resize and central crop, decoded as the
    per-image loader decodes (``DecodeShorterSide`` before ``paper_crop``/``eval_crop``)."""
    square = v2.Compose([v2.Resize(side, antialias=True), v2.CenterCrop(side), v2.ToImage()])
    return DecodeShorterSide(side, square)


def pack_rows(array: str, rows: list[tuple[int, str]], side: int) -> list[tuple[int, str | None]]:
    """Decode ``rows`` (row, path) into the mapped array; returns (row, None or why skipped)."""
    images = np.load(array, mmap_mode="r+")
    decode = preprocess(side)
    results: list[tuple[int, str | None]] = []
    for row, path in rows:
        try:
            pixels = decode(path)
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
            results.append((row, f"cannot decode it ({err})"))
            continue
        images[row] = pixels.permute(1, 2, 0).numpy()
        results.append((row, None))
    images.flush()  # the pixels are on disk before the caller marks the rows done
    return results


def _squeeze(dst: Path, split: str, keep: np.ndarray) -> None:
    """Move the kept rows to the front and shorten the array (skipped files leave gaps)."""
    marker = dst / f".{split}.squeezing"
    marker.touch()
    path = images_path(dst, split)
    images = np.load(path, mmap_mode="r+")
    for new, old in enumerate(keep):
        if new != old:
            images[new] = images[old]
    images.flush()
    shape = (len(keep), *images.shape[1:])
    del images
    _rewrite_shape(path, shape)
    marker.unlink()


def _rewrite_shape(path: Path, shape: tuple[int, ...]) -> None:
    """Give a .npy file a smaller first dimension in place: same header length, file cut."""
    # numpy cannot: open_memmap(mode="r+") keeps the file's shape, a memmap cannot resize
    with open(path, "r+b") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(f)
        else:
            np.lib.format.read_array_header_2_0(f)
        offset = f.tell()
        header = str({"descr": "|u1", "fortran_order": False, "shape": shape}).encode("latin1")
        prefix = np.lib.format.magic(*version) + (offset - 10).to_bytes(2, "little")
        if version != (1, 0):
            prefix = np.lib.format.magic(*version) + (offset - 12).to_bytes(4, "little")
        room = offset - len(prefix)
        f.seek(0)
        f.write(prefix + header.ljust(room - 1) + b"\n")
        f.truncate(offset + int(np.prod(shape)))
