"""Measure throughput on this machine: `python scripts/benchmark.py [key=value ...]`; the method
is printed by --help (alexnet_lightning/benchmarks/pipeline.py)."""

import ast
import importlib.util
import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from alexnet_lightning.entry.cli import run_task

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))


@hydra.main(version_base="1.3", config_path="../conf", config_name="benchmark")
def main(cfg: DictConfig) -> None:
    results = run_task("alexnet_lightning.benchmarks.pipeline:run_benchmark", cfg)
    from alexnet_lightning.benchmarks.pipeline import format_table  # imported by the task already

    print(format_table(results))


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):  # Hydra's help lists keys; the method comes first
        module = importlib.util.find_spec("alexnet_lightning.benchmarks.pipeline").origin
        print(ast.get_docstring(ast.parse(Path(module).read_text())))  # no torch import for it
    main()
