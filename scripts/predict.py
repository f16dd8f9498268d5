"""Classify images: `python scripts/predict.py ckpt_path=... inputs=FILE_OR_FOLDER [top_k=5]`."""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

from alexnet_lightning.entry.cli import run_task

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    run_task("alexnet_lightning.entry.predict:predict", cfg)


if __name__ == "__main__":
    main()
