"""Train AlexNet: `python scripts/train.py [experiment=...] [key=value ...]`."""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

from alexnet_lightning.entry.cli import optimized_value, run_task

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return optimized_value(run_task("alexnet_lightning.entry.train:train", cfg), cfg)


if __name__ == "__main__":
    main()
