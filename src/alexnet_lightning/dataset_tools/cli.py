"""The command lines of the dataset tools (scripts/download_imagenette.py, make_imagenet_subset.py,
pack_dataset.py, synthetic_cifar10.py): help from the script's docstring, the flags every build
takes, and a user's mistake as one ``error:`` line with exit status 2."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from alexnet_lightning.entry.cli import run_command


def tool_parser(
    doc: str, *, workers: bool = False, progress: bool = False
) -> argparse.ArgumentParser:
    """A parser whose description is ``doc``'s first paragraph and epilog the rest (the
    examples); ``workers``/``progress`` add --workers and --no-progress."""
    description, _, epilog = doc.partition("\n\n")
    parser = argparse.ArgumentParser(
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if workers:
        parser.add_argument("--workers", type=int, help="parallel processes (default: CPU count)")
    if progress:
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def run_tool(
    parser: argparse.ArgumentParser,
    work: Callable[[argparse.Namespace], Any],
    argv: list[str] | None = None,
) -> int:
    """Parse ``argv`` and do ``work(args)``; returns the exit status."""
    args = parser.parse_args(argv)
    return run_command(lambda: work(args))
