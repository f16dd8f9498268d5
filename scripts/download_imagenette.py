#!/usr/bin/env python
"""Download fast.ai's Imagenette or Imagewoof and unpack it into a ready dataset folder.

The result (e.g. DEST/imagenette2-320/ with train/, val/ and manifest.json) can be used as
data.root directly. Interrupted downloads resume when the command is run again.

Example:
  python scripts/download_imagenette.py --dataset imagenette --size 320 --dest data
"""

from __future__ import annotations

import argparse
import sys

from alexnet_lightning.dataset_tools.cli import run_tool, tool_parser
from alexnet_lightning.dataset_tools.imagenet.download import DATASETS, SIZES, download_imagenette


def make_parser() -> argparse.ArgumentParser:
    parser = tool_parser(__doc__, progress=True)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="imagenette")
    parser.add_argument(
        "--size", choices=list(SIZES), default="320", help="shorter side of the images"
    )
    parser.add_argument("--dest", required=True, help="folder to put the dataset folder in")
    parser.add_argument("--url", help="download from here instead (a mirror, or file://...)")
    parser.add_argument("--md5", help="expected MD5 of the archive (needed to check a --url)")
    parser.add_argument("--sha256", help="expected SHA-256 of the archive")
    parser.add_argument(
        "--skip-checksum",
        action="store_true",
        help="do not check the built-in checksums (if fast.ai republished a file)",
    )
    parser.add_argument("--keep-archive", action="store_true", help="keep the .tgz afterwards")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_tool(make_parser(), download, argv)


def download(args: argparse.Namespace) -> None:
    root = download_imagenette(
        args.dataset,
        args.size,
        args.dest,
        url=args.url,
        md5=args.md5,
        sha256=args.sha256,
        skip_checksum=args.skip_checksum,
        keep_archive=args.keep_archive,
        progress=not args.no_progress,
    )
    print(root)


if __name__ == "__main__":
    sys.exit(main())
