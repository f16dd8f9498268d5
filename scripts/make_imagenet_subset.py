#!/usr/bin/env python
"""Build an ImageFolder subset of ILSVRC2012 (train/<wnid>/, val/<wnid>/, manifest.json).

Examples:
  python scripts/make_imagenet_subset.py --source /data/ILSVRC2012 --dest data/imagenet100 \\
      --classes imagenet100 --resize 256
  python scripts/make_imagenet_subset.py --source /data/imagenet-kaggle --dest data/nette \\
      --classes imagenette --link
"""

from __future__ import annotations

import argparse
import sys

from alexnet_lightning.data.manifest import load_manifest
from alexnet_lightning.dataset_tools.cli import run_tool, tool_parser
from alexnet_lightning.dataset_tools.imagenet import build_subset
from alexnet_lightning.dataset_tools.pack import pack_dataset


def make_parser() -> argparse.ArgumentParser:
    parser = tool_parser(__doc__, workers=True, progress=True)
    parser.add_argument(
        "--source",
        required=True,
        help="ILSVRC2012 root: sorted (train/, val/ by wnid), Kaggle (ILSVRC/Data/CLS-LOC + "
        "LOC_val_solution.csv) or flat val + devkit; detected automatically",
    )
    parser.add_argument("--dest", required=True, help="output folder (new, or a previous build)")
    parser.add_argument(
        "--classes",
        required=True,
        help="imagenette | imagewoof | imagenet100 | random:N | a file of wnids (one per line)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for random:N (default 0)")
    parser.add_argument(
        "--train-per-class", type=int, help="first N train images per class (default all)"
    )
    parser.add_argument("--val-per-class", type=int, help="first N val images per class")
    parser.add_argument(
        "--resize", type=int, help="shrink the shorter side to this many pixels (never upscale)"
    )
    parser.add_argument(
        "--quality", type=int, default=90, help="JPEG quality with --resize (default 90)"
    )
    parser.add_argument(
        "--link",
        action="store_true",
        help="hard-link instead of copy (symlink across filesystems); not with --resize",
    )
    parser.add_argument(
        "--pack",
        action="store_true",
        help="then pack the subset for data=packed into --pack-dest (default <dest>_packed)",
    )
    parser.add_argument("--pack-dest", help="where --pack writes (default <dest>_packed)")
    parser.add_argument("--pack-side", type=int, default=256, help="--pack's side (default 256)")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_tool(make_parser(), build, argv)


def build(args: argparse.Namespace) -> None:
    dest = build_subset(
        args.source,
        args.dest,
        args.classes,
        train_per_class=args.train_per_class,
        val_per_class=args.val_per_class,
        resize=args.resize,
        quality=args.quality,
        link=args.link,
        workers=args.workers,
        seed=args.seed,
        progress=not args.no_progress,
    )
    if args.pack:
        packed = pack_dataset(
            dest,
            args.pack_dest or f"{str(dest).rstrip('/')}_packed",
            args.pack_side,
            workers=args.workers,
            progress=not args.no_progress,
        )
        print(f"packed for data=packed: {packed}")
    manifest = load_manifest(dest) or {}
    counts = manifest.get("counts", {})
    totals = ", ".join(f"{split} {sum(c.values())}" for split, c in counts.items())
    print(f"{dest}: {len(manifest.get('classes', []))} classes, {totals} images", end="")
    print(f", {len(manifest.get('skipped', []))} skipped (see manifest.json)")


if __name__ == "__main__":
    sys.exit(main())
