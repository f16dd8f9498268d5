"""Figure 4: `python scripts/neighbours.py ckpt_path=... [data=...] [queries=8]`."""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

from alexnet_lightning.entry.cli import run_task

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))


@hydra.main(version_base="1.3", config_path="../conf", config_name="neighbours")
def main(cfg: DictConfig) -> None:
    run_task("alexnet_lightning.entry.neighbours:neighbours", cfg)


if __name__ == "__main__":
    main()
