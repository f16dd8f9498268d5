"""Measure throughput on this machine: `python scripts/benchmark.py [key=value ...]`."""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

from alexnet_lightning.benchmark import format_table, run_benchmark
from alexnet_lightning.entry.cli import run_task

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))


@hydra.main(version_base="1.3", config_path="../conf", config_name="benchmark")
def main(cfg: DictConfig) -> None:
    print(format_table(run_task(run_benchmark, cfg)))


if __name__ == "__main__":
    main()
