"""Figure 3 over seeds: `python scripts/kernel_colours.py <sweep> [<sweep> ...] [--out DIR]`.

Prints each group of jobs' (same overrides but the seed) per-tower mean Lab chroma of the
first-layer kernels, mean ± sd over seeds, and writes one kernel figure per group into DIR.
"""

import argparse
import re
import sys
from pathlib import Path

from alexnet_lightning.analysis.kernel_colours import kernel_groups, write_group_figure
from alexnet_lightning.entry.cli import run_command


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sweeps", type=Path, nargs="+", help="multirun folders")
    parser.add_argument("--out", type=Path, default=Path("docs/figures"), help="PNG folder")
    return parser


def main() -> int:
    args = make_parser().parse_args()

    def work() -> None:
        for sweep in args.sweeps:
            for group in kernel_groups(sweep):
                name = re.sub(r"[^A-Za-z0-9]+", "_", group.label).strip("_")
                path = write_group_figure(group, args.out / f"kernels_{name}.png")
                print(f"{group.summary()}  ->  {path}")

    return run_command(work)


if __name__ == "__main__":
    sys.exit(main())
