"""Measure the ImageNet-subset path on this machine: build speed with and without --resize, and
the training loader's images/s on the full-size versus the pre-resized copy.

    python scripts/benchmark_subset.py --classes 4 --per-class 150 --size 500x375 --workers 2

The source is generated (ImageNet-sized JPEGs of smooth noise), so no data is needed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import DataLoader

from alexnet_lightning.data.decode import DecodeRandomResizedCrop
from alexnet_lightning.data.folder import ImageFiles, collate_skipping_bad
from alexnet_lightning.data.imagenet import build_subset

WNIDS = ["n01440764", "n02102040", "n02979186", "n03000684", "n03028079", "n03394916"]


def make_source(root: Path, classes: int, per_class: int, size: tuple[int, int]) -> None:
    """Sorted-layout ILSVRC stand-in: photo-sized JPEGs with smooth content (like real photos,
    which compress to ~100 KB at 500x375, unlike white noise)."""
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("val", max(1, per_class // 5))):
        for wnid in WNIDS[:classes]:
            folder = root / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                coarse = rng.integers(0, 256, (size[1] // 16, size[0] // 16, 3), dtype=np.uint8)
                image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
                image.save(folder / f"{wnid}_{i:05d}.JPEG", quality=90)


def loader_rate(root: Path, image_size: int, workers: int, batch_size: int) -> float:
    classes = sorted(p.name for p in (root / "train").iterdir())
    dataset = ImageFiles(root / "train", classes, DecodeRandomResizedCrop(image_size))
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=workers,
        shuffle=True,
        collate_fn=collate_skipping_bad,
        persistent_workers=False,
    )
    start, seen = time.perf_counter(), 0
    for images, _ in loader:
        seen += images.shape[0]
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--per-class", type=int, default=150)
    parser.add_argument("--size", default="500x375", help="source image size WxH")
    parser.add_argument("--resize", type=int, default=160, help="shorter side of the copy")
    parser.add_argument("--image-size", type=int, default=224, help="training crop")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default="benchmark_subset.json")
    parser.add_argument(
        "--keep", help="leave the two subsets here (<keep>/copy, <keep>/resize) for later runs"
    )
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))

    results: dict = {"settings": vars(args)}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        make_source(tmp / "src", args.classes, args.per_class, size)
        images = sum(1 for _ in (tmp / "src").rglob("*.JPEG"))
        wnids = WNIDS[: args.classes]
        for name, options in (("copy", {}), ("resize", {"resize": args.resize})):
            start = time.perf_counter()
            target = Path(args.keep) / name if args.keep else tmp / name
            build_subset(
                tmp / "src", target, wnids, workers=args.workers, progress=False, **options
            )
            results[f"build_{name}_img_s"] = images / (time.perf_counter() - start)
            results[f"loader_{name}_img_s"] = loader_rate(
                target, args.image_size, args.workers, args.batch_size
            )
    for key, value in results.items():
        print(f"{key:24s} {value:.0f}" if isinstance(value, float) else f"{key:24s} {value}")
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
