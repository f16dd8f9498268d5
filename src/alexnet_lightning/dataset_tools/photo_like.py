"""Synthetic images: the one writer behind the photo-like measuring sets, the subset benchmark's
source and the tests' image folders. ``python -m alexnet_lightning.dataset_tools.photo_like
--dest DIR --classes 8 --per-class 600 --size 500x375`` writes a photo-sized ImageFolder tree.

Smooth random content (coarse noise, upsampled bicubically) compresses and decodes like a
photograph (white noise would make huge, slow files). Each image depends only on its class,
split and index, so the tree is the same with any number of workers.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from alexnet_lightning.dataset_tools.builds import run_jobs

Job = tuple[str, int, int, int, int, int]
CHUNK = 64  # images per worker task: keeps the pool balanced, each task worth a process hop


def noise_image(
    rng: np.random.Generator,
    size: tuple[int, int],
    *,
    base: int | Sequence[int] | np.ndarray = 128,
    spread: int = 128,
    cell: int = 1,
    mode: str = "RGB",
) -> Image.Image:
    """``base`` (one value per channel, or one for all) plus uniform noise in
    [-spread, spread), drawn per ``cell`` x ``cell`` block and upsampled bicubically: cell 1 is
    per-pixel noise (incompressible: a truncated file really lacks image data), a cell of ~10
    looks like a photograph to the codec. ``mode``: RGB, L, CMYK (what PIL writes as JPEG)."""
    width, height = size
    grid = (max(1, height // cell), max(1, width // cell), len(mode))
    noise = rng.integers(-spread, spread, size=grid)
    pixels = np.clip(np.asarray(base) + noise, 0, 255).astype(np.uint8)
    image = Image.frombytes(mode, (grid[1], grid[0]), pixels.tobytes())
    return image if cell == 1 else image.resize(size, Image.Resampling.BICUBIC)


def class_tint(label: int) -> np.ndarray:
    """A colour per class, so a network can tell the classes apart."""
    return np.array([(label * 97) % 256, (label * 53) % 256, (label * 151) % 256])


def _write(jobs: list[Job]) -> list[None]:
    for path, label, index, width, height, split_seed in jobs:
        rng = np.random.default_rng((label, index, split_seed))
        base = class_tint(label) // 2 + 64  # noise of +-64 around it: the full 0..255 range
        image = noise_image(rng, (width, height), base=base, spread=64, cell=10)
        image.save(path, quality=90)
    return [None] * len(jobs)


def write_photo_like(
    dest: str | Path,
    classes: int,
    per_class: int,
    size: tuple[int, int] = (500, 375),
    val_per_class: int | None = None,
    workers: int | None = None,
    class_names: Sequence[str] | None = None,
    progress: bool = False,
) -> Path:
    """An ImageFolder tree ``dest/{train,val}/<class>/*.jpg``; files already there are kept.
    Classes are named ``class_<k>`` unless ``class_names`` (one per class) are given."""
    dest = Path(dest)
    names = list(class_names or [f"class_{k:02d}" for k in range(classes)])[:classes]
    val_per_class = max(1, per_class // 10) if val_per_class is None else val_per_class
    todo: list[Job] = []
    for split_seed, (split, count) in enumerate((("train", per_class), ("val", val_per_class))):
        for label, name in enumerate(names):
            folder = dest / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                path = folder / f"{index:05d}.jpg"
                if not path.exists():
                    todo.append((str(path), label, index, *size, split_seed))
    jobs = [(todo[i : i + CHUNK],) for i in range(0, len(todo), CHUNK)]
    total = len(names) * (per_class + val_per_class)
    run_jobs(
        _write,
        jobs,
        workers=workers or os.cpu_count() or 1,
        label="images",
        total=total,
        done=total - len(todo),
        progress=progress,
    )
    return dest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", required=True)
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--per-class", type=int, default=600)
    parser.add_argument("--val-per-class", type=int)
    parser.add_argument("--size", default="500x375", help="width x height")
    parser.add_argument("--workers", type=int)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    start = time.perf_counter()
    write_photo_like(
        args.dest, args.classes, args.per_class, (width, height), args.val_per_class, args.workers
    )
    seconds = time.perf_counter() - start
    print(f"{args.dest}: {args.classes} x {args.per_class} JPEGs in {seconds:.1f} s")


if __name__ == "__main__":
    main()
