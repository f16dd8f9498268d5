"""Rebuild a sweep's report: `python scripts/sweep_report.py logs/train/multiruns/<stamp>`."""

import argparse
import sys
from pathlib import Path

import yaml

from alexnet_lightning.sweeps.report import write_report


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder (holds multirun.yaml)")
    return parser


def main() -> None:
    args = make_parser().parse_args()
    config = args.sweep_dir / "multirun.yaml"
    if not config.is_file():
        sys.exit(
            f"{args.sweep_dir} is not a sweep folder (no multirun.yaml); pass the folder "
            "that holds the numbered job folders, e.g. logs/train/multiruns/<stamp>"
        )
    cfg = yaml.safe_load(config.read_text())
    direction = cfg.get("hydra", {}).get("sweeper", {}).get("direction", "maximize")
    for path in write_report(args.sweep_dir, cfg.get("optimized_metric"), direction):
        print(path)


if __name__ == "__main__":
    main()
