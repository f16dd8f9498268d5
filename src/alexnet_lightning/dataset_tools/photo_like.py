"""Photo-sized JPEGs to measure with, made in parallel: ``python -m
alexnet_lightning.dataset_tools.photo_like --dest DIR --classes 8 --per-class 600 --size 500x375``.

Smooth random content (coarse noise, upsampled bicubically) compresses and decodes like a
photograph (white noise would make huge, slow files). Each image depends only on its class,
split and index, so the tree is the same with any number of workers.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image


def _write(job: tuple[str, int, int, int, int, int]) -> None:
    path, label, index, width, height, split_seed = job
    rng = np.random.default_rng((label, index, split_seed))
    coarse = rng.integers(0, 256, (max(1, height // 10), max(1, width // 10), 3), dtype=np.uint8)
    tint = np.array([(label * 97) % 256, (label * 53) % 256, (label * 151) % 256])
    coarse = ((coarse.astype(np.int32) + tint) // 2).astype(np.uint8)  # classes differ in colour
    image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    image.save(path, quality=90)


def write_photo_like(
    dest: str | Path,
    classes: int,
    per_class: int,
    size: tuple[int, int] = (500, 375),
    val_per_class: int | None = None,
    workers: int | None = None,
) -> Path:
    """An ImageFolder tree ``dest/{train,val}/class_<k>/*.jpg``; files already there are kept."""
    dest = Path(dest)
    val_per_class = max(1, per_class // 10) if val_per_class is None else val_per_class
    jobs = []
    for split_seed, (split, count) in enumerate((("train", per_class), ("val", val_per_class))):
        for label in range(classes):
            folder = dest / split / f"class_{label:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                path = folder / f"{index:05d}.jpg"
                if not path.exists():
                    jobs.append((str(path), label, index, *size, split_seed))
    with ProcessPoolExecutor(workers or os.cpu_count()) as pool:
        list(pool.map(_write, jobs, chunksize=64))
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
