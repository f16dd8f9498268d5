"""Measure the ImageNet-subset path on this machine: build speed with and without --resize, and
the training loader's images/s on the full-size versus the pre-resized copy.

    python scripts/benchmark_subset.py --classes 4 --per-class 150 --size 500x375 --workers 2

With --pack it instead packs the generated set (--pack-side) and times the training loader of
data=packed against the JPEG loader on the same files, alternating the two (--rounds), with
the same crop (RandomResizedCrop to --image-size, or --train-crop paper), batch size and
workers. No trainer is attached, so the packed workers cut the crops (its CPU mode) while the
JPEG workers decode and crop: both hand over uint8 crops, what training gets before the shared
on-device flip, lighting and normalisation. Each figure is a steady rate: persistent workers,
one epoch of warm-up, then --epochs epochs timed from the epoch's first request (nothing
prefetched before the window counts).

Method of the build figures: images/s of the whole build_subset call, over all source images.
The source is generated (photo-sized JPEGs of smooth noise, dataset_tools.photo_like), so no
data is needed. Figures go to stdout and to --out as JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader

from alexnet_lightning.data.decode import DecodeRandomResizedCrop
from alexnet_lightning.data.folder import ImageFiles, collate_skipping_bad
from alexnet_lightning.data.folder_datamodule import ImageFolderDataModule
from alexnet_lightning.data.packed.datamodule import PackedDataModule
from alexnet_lightning.dataset_tools.imagenet import build_subset
from alexnet_lightning.dataset_tools.pack import pack_dataset
from alexnet_lightning.dataset_tools.photo_like import write_photo_like


def make_source(root: Path, args: argparse.Namespace) -> list[str]:
    """A sorted-layout ILSVRC stand-in of photo-sized JPEGs; returns its wnids."""
    wnids = [f"n{k:08d}" for k in range(args.classes)]
    size = tuple(int(v) for v in args.size.split("x"))
    val = max(1, args.per_class // 5)
    write_photo_like(root, args.classes, args.per_class, size, val, args.workers, wnids)
    return wnids


def loader_rate(root: Path, image_size: int, workers: int, batch_size: int) -> float:
    """One epoch of the training loader's decode + RandomResizedCrop, workers started inside."""
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


def steady_rate(loader: DataLoader, epochs: int) -> float:
    """Images/s over ``epochs`` epochs after one warm-up epoch (workers started, files cached)."""
    for _ in loader:
        pass
    start, seen = time.perf_counter(), 0
    for _ in range(epochs):
        for batch in loader:
            seen += batch[0].shape[0]
    return seen / (time.perf_counter() - start)


def compare_packed(source: Path, packed: Path, args: argparse.Namespace) -> dict:
    """The training loaders of data=imagefolder and data=packed, alternating, same settings."""
    common = {
        "batch_size": args.batch_size,
        "num_workers": args.workers,
        "image_size": args.image_size,
        "train_crop": args.train_crop,
        "persistent_workers": args.workers > 0,
        "num_classes": None,
    }
    modules = {
        "jpeg": ImageFolderDataModule(str(source), **common),
        "packed": PackedDataModule(str(packed), **common),
    }
    rates: dict[str, list[float]] = {name: [] for name in modules}
    loaders = {}
    for name, module in modules.items():
        module.setup("fit")
        loaders[name] = module.train_dataloader()
    for _ in range(args.rounds):
        for name, loader in loaders.items():
            rates[name].append(steady_rate(loader, args.epochs))
    ratios = [p / j for p, j in zip(rates["packed"], rates["jpeg"], strict=True)]
    return {
        "loader_jpeg_img_s": rates["jpeg"],
        "loader_packed_img_s": rates["packed"],
        "packed_over_jpeg": ratios,
        "packed_over_jpeg_median": float(np.median(ratios)),
    }


def measure_packed(tmp: Path, args: argparse.Namespace) -> dict:
    make_source(tmp / "src", args)
    images = sum(1 for _ in (tmp / "src").rglob("*.jpg"))
    start = time.perf_counter()
    pack_dataset(tmp / "src", tmp / "packed", args.pack_side, workers=args.workers, progress=False)
    results = {"pack_img_s": images / (time.perf_counter() - start)}
    return results | compare_packed(tmp / "src", tmp / "packed", args)


def measure_subsets(tmp: Path, args: argparse.Namespace) -> dict:
    wnids = make_source(tmp / "src", args)
    images = sum(1 for _ in (tmp / "src").rglob("*.jpg"))
    results = {}
    for name, options in (("copy", {}), ("resize", {"resize": args.resize})):
        start = time.perf_counter()
        target = Path(args.keep) / name if args.keep else tmp / name
        build_subset(tmp / "src", target, wnids, workers=args.workers, progress=False, **options)
        results[f"build_{name}_img_s"] = images / (time.perf_counter() - start)
        results[f"loader_{name}_img_s"] = loader_rate(
            target, args.image_size, args.workers, args.batch_size
        )
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    parser.add_argument("--pack", action="store_true", help="time data=packed against JPEGs")
    parser.add_argument("--pack-side", type=int, default=256)
    parser.add_argument("--train-crop", default="random_resized", help="or paper (--pack)")
    parser.add_argument("--rounds", type=int, default=3, help="alternations (--pack)")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per figure (--pack)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results: dict = {"settings": vars(args)}
    with tempfile.TemporaryDirectory() as scratch:
        measure = measure_packed if args.pack else measure_subsets
        results |= measure(Path(scratch), args)
    for key, value in results.items():
        if isinstance(value, list):
            value = " ".join(f"{v:.3g}" for v in value)
        print(f"{key:24s} {value:.3g}" if isinstance(value, float) else f"{key:24s} {value}")
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
