"""Evaluate a checkpoint: `python scripts/eval.py ckpt_path=... [split=val|test] [data...]`."""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

from alexnet_lightning.entry.cli import run_task

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    run_task("alexnet_lightning.entry.evaluate:evaluate", cfg)


if __name__ == "__main__":
    main()
