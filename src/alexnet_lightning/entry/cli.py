"""What every script does around its entry function: user errors as one line, failures located."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from alexnet_lightning.errors import UserError

log = logging.getLogger("alexnet_lightning")


def run_task(task: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Call ``task(cfg)``. A UserError ends the process with its message and exit code 2;
    any other failure is logged with the run folder's path, then raised with its traceback."""
    output_dir = OmegaConf.select(cfg, "paths.output_dir", default=None)
    try:
        return task(cfg)
    except UserError as err:
        log.error("%s", err)
        log.error("stopped before running; run folder: %s", output_dir)
        sys.exit(2)
    except Exception:
        log.error("run failed; its folder (log, config, checkpoints): %s", output_dir)
        raise


def optimized_value(metrics: dict[str, float], cfg: DictConfig) -> float | None:
    """The metric a Hydra sweeper maximises (``optimized_metric``), if the run produced it."""
    name = cfg.get("optimized_metric")
    return metrics.get(name) if name else None
