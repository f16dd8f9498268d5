"""What both sweepers do around their jobs: make the sweep folder, write the report at the end."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def make_sweep_folder(config: DictConfig) -> Path:
    """The sweep folder, with the sweep's config saved in it (multirun.yaml), as Hydra's does."""
    sweep_dir = Path(config.hydra.sweep.dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    return sweep_dir


def write_report_at_end(sweep_dir: Path, metric: str | None, direction: str = "maximize") -> None:
    """The sweep report; a failure here is logged, never allowed to hide the sweep's outcome."""
    # imported here: matplotlib takes a second, and the sweepers are loaded at Hydra startup
    from alexnet_lightning.sweeps.report import write_report

    try:
        paths = write_report(sweep_dir, metric, direction)
        log.info("sweep report: %s", ", ".join(str(p) for p in paths))
    except Exception:
        log.exception("could not write the sweep report in %s", sweep_dir)
