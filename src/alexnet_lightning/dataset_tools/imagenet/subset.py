"""Build an ImageFolder subset (DST/{train,val}/<wnid>/*.JPEG + manifest.json) from ILSVRC2012.

Resumable and idempotent: files already in DST are kept (they were renamed into place only once
complete), leftovers of an interrupted run are removed, and manifest.json is written last, so
a DST with a manifest is complete.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from alexnet_lightning.data.manifest import (
    MANIFEST_NAME,
    count_images,
    make_manifest,
    write_manifest,
)
from alexnet_lightning.dataset_tools.builds import claim_dest, refuse_overlap, run_jobs
from alexnet_lightning.dataset_tools.imagenet.classes import (
    imagenet_names,
    is_wnid,
    resolve_class_list,
)
from alexnet_lightning.dataset_tools.imagenet.layouts import SourceLayout, detect_layout
from alexnet_lightning.dataset_tools.imagenet.transfer import (
    SKIPPED,
    TransferOptions,
    output_name,
    transfer_batch,
)
from alexnet_lightning.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "val")
# Marks a DST as ours and records the options that decide what its files contain.
MARKER_NAME = ".subset-build.json"

Job = tuple[str, str]


def build_subset(
    source: str | Path,
    dest: str | Path,
    classes: str | Iterable[str],
    *,
    train_per_class: int | None = None,
    val_per_class: int | None = None,
    resize: int | None = None,
    quality: int = 90,
    link: bool = False,
    workers: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Build (or finish, or refresh) the subset in `dest`; returns `dest` as an absolute path.

    `classes` is a --classes spec (imagenette | imagewoof | imagenet100 | random:N | file of
    wnids) or an iterable of wnids. Per-class limits take the first N images in file-name order.
    """
    _check_options(train_per_class, val_per_class, resize, quality, link, workers)
    src = Path(source).expanduser().resolve()
    dst = Path(dest).expanduser().resolve()
    refuse_overlap(src, dst)
    layout = detect_layout(src)
    wnids = resolve_class_list(classes, layout.classes(), seed, where=f"{src} ({layout.kind})")
    shipped = imagenet_names()
    names = [layout.names.get(w) or shipped.get(w) or w for w in wnids]

    options = TransferOptions(resize=resize, quality=quality, link=link)
    limits = {"train": train_per_class, "val": val_per_class}
    plan = _plan(layout, dst, wnids, limits, options)

    claim_dest(dst, MARKER_NAME, _marker_options(options))
    # The old manifest would describe a dataset that is about to change.
    (dst / MANIFEST_NAME).unlink(missing_ok=True)
    _prune(dst, wnids, plan)
    todo = [job for jobs in plan.values() for job in jobs if not os.path.exists(job[1])]
    total = sum(len(jobs) for jobs in plan.values())
    skipped = _run(todo, total, options, workers or os.cpu_count() or 1, progress)

    counts = {split: count_images(dst / split, wnids) for split in SPLITS}
    spec = classes if isinstance(classes, str) else "list"
    manifest = make_manifest(
        classes=wnids,
        names=names,
        counts=counts,
        source=str(src),
        layout=layout.kind,
        options={
            "classes": spec,
            "seed": seed,
            "train_per_class": train_per_class,
            "val_per_class": val_per_class,
            "resize": resize,
            "quality": quality,
            "link": link,
        },
        skipped=sorted(skipped),
    )
    write_manifest(dst, manifest)
    return dst


def _check_options(
    train_per_class: int | None,
    val_per_class: int | None,
    resize: int | None,
    quality: int,
    link: bool,
    workers: int | None,
) -> None:
    for flag, value in (("--train-per-class", train_per_class), ("--val-per-class", val_per_class)):
        if value is not None and value < 0:
            raise ConfigError(f"{flag} must be >= 0 (or left out for all images), got {value}")
    if resize is not None and resize < 1:
        raise ConfigError(f"--resize must be a positive shorter-side length, got {resize}")
    if not 1 <= quality <= 100:
        raise ConfigError(f"--quality must be in 1..100, got {quality}")
    if link and resize:
        raise ConfigError("--link cannot be combined with --resize: resized files are new files")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")


def _plan(
    layout: SourceLayout,
    dst: Path,
    wnids: list[str],
    limits: dict[str, int | None],
    options: TransferOptions,
) -> dict[tuple[str, str], list[Job]]:
    """(split, wnid) -> [(source file, output file)], first N by file name."""
    plan = {}
    for split in SPLITS:
        for wnid in wnids:
            images = layout.images(split, wnid)[: limits[split]]
            folder = dst / split / wnid
            plan[split, wnid] = [
                (str(p), str(folder / output_name(p.name, options))) for p in images
            ]
    return plan


def _marker_options(options: TransferOptions) -> dict[str, Any]:
    # Quality only shapes the files when they are re-encoded.
    return {
        "resize": options.resize,
        "quality": options.quality if options.resize else None,
        "link": options.link,
    }


def _prune(dst: Path, wnids: list[str], plan: dict[tuple[str, str], list[Job]]) -> None:
    """Create the class folders and delete anything in them this build does not produce:
    temp files of an interrupted run, and images or classes a previous run had and this one
    does not (e.g. a smaller --train-per-class)."""
    for split in SPLITS:
        split_dir = dst / split
        split_dir.mkdir(exist_ok=True)
        for entry in split_dir.iterdir():
            if entry.is_dir() and is_wnid(entry.name) and entry.name not in wnids:
                shutil.rmtree(entry)
        for wnid in wnids:
            folder = split_dir / wnid
            folder.mkdir(exist_ok=True)
            keep = {Path(target).name for _, target in plan[split, wnid]}
            for entry in folder.iterdir():
                if entry.name not in keep and (entry.is_file() or entry.is_symlink()):
                    entry.unlink()


def _batches(jobs: list[Job], workers: int) -> Iterator[list[Job]]:
    # Small enough to keep the bar moving and the workers balanced, big enough to be cheap.
    size = max(1, min(256, len(jobs) // (workers * 8) or 1))
    for start in range(0, len(jobs), size):
        yield jobs[start : start + size]


def _run(
    todo: list[Job], total: int, options: TransferOptions, workers: int, progress: bool
) -> list[str]:
    """Process the jobs, in parallel when workers > 1; returns the skipped source files."""
    skipped: list[str] = []

    def record(job: tuple[list[Job], TransferOptions], results: list[tuple[str, str]]) -> None:
        for (source, _), (outcome, message) in zip(job[0], results, strict=True):
            if outcome == SKIPPED:
                log.warning("skipped %s: cannot decode it (%s)", source, message)
                skipped.append(source)

    jobs = [(batch, options) for batch in _batches(todo, workers)]
    try:
        run_jobs(
            transfer_batch,
            jobs,
            record=record,
            workers=workers,
            label="images",
            total=total,
            done=total - len(todo),
            progress=progress,
        )
    except OSError as err:
        raise DataError(
            f"cannot write {err.filename or 'the subset'}: {err.strerror or err}; "
            "free space or fix permissions, then rerun to continue"
        ) from err
    return skipped
