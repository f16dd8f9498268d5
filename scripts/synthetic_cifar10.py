#!/usr/bin/env python
"""Write a CIFAR-10 python archive in the official format with generated images (no download).

For machines without the real data: the same file names, shapes and dtypes, so data=cifar10
runs, and its speed can be measured, exactly as on the real archive (accuracy means nothing).

Examples:
  python scripts/synthetic_cifar10.py --dest data/synthetic_cifar10
Then (the md5 printed by this script):
  python scripts/train.py data=cifar10 model.net.variant=cifar \\
      data.archive_dir=data/synthetic_cifar10 data.root=data/synthetic_cifar10 data.md5=<md5>
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alexnet_lightning.dataset_tools.cli import run_tool, tool_parser
from alexnet_lightning.dataset_tools.synthetic_cifar10 import write_cifar10_archive
from alexnet_lightning.errors import DataError

ARCHIVE = "cifar-10-python.tar.gz"


def make_parser() -> argparse.ArgumentParser:
    parser = tool_parser(__doc__)
    parser.add_argument("--dest", required=True, help=f"folder to write {ARCHIVE} into")
    parser.add_argument("--per-batch", type=int, default=10_000, help="images per train batch")
    parser.add_argument("--test", type=int, default=10_000, help="test images")
    parser.add_argument("--seed", type=int, default=0, help="the images' random generator")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_tool(make_parser(), write, argv)


def write(args: argparse.Namespace) -> None:
    path = Path(args.dest) / ARCHIVE
    try:
        md5 = write_cifar10_archive(path, args.per_batch, args.test, args.seed)
    except OSError as err:
        raise DataError(f"--dest {args.dest}: cannot write {path} ({err.strerror})") from None
    print(f"{path}: {5 * args.per_batch} train + {args.test} test images, md5 {md5}")


if __name__ == "__main__":
    sys.exit(main())
