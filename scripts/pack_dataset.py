#!/usr/bin/env python
"""Pack an ImageFolder tree for data=packed: every image decoded once, uint8 side x side.

Examples:
  python scripts/pack_dataset.py --source data/imagenet100 --dest data/imagenet100_packed
  python scripts/pack_dataset.py --source data/shapes --dest data/shapes_packed --side 80
Then: python scripts/train.py experiment=imagenet_subset data=packed data.root=<dest>
An interrupted pack continues where it stopped when run again with the same arguments.
"""

from __future__ import annotations

import argparse
import sys

from alexnet_lightning.data.packed.store import read_packed_manifest
from alexnet_lightning.dataset_tools.cli import run_tool, tool_parser
from alexnet_lightning.dataset_tools.pack import pack_dataset


def make_parser() -> argparse.ArgumentParser:
    parser = tool_parser(__doc__, workers=True, progress=True)
    parser.add_argument("--source", required=True, help="ImageFolder tree: train/, val/, test/")
    parser.add_argument("--dest", required=True, help="output folder (new, or an unfinished pack)")
    parser.add_argument(
        "--side", type=int, default=256, help="shorter side resized to this, central square kept"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_tool(make_parser(), pack, argv)


def pack(args: argparse.Namespace) -> None:
    dest = pack_dataset(
        args.source, args.dest, args.side, workers=args.workers, progress=not args.no_progress
    )
    info = read_packed_manifest(dest)
    counts = ", ".join(f"{split} {n}" for split, n in info.counts.items())
    skipped = len(info.manifest["skipped"])
    print(f"{dest}: {len(info.classes)} classes, {info.side} px, {counts} images, ", end="")
    print(f"{skipped} skipped (see manifest.json)")


if __name__ == "__main__":
    sys.exit(main())
