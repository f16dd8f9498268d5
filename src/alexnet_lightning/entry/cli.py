"""What every script does around its entry function: user errors as one line, failures located."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import optuna
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from alexnet_lightning.errors import UserError

log = logging.getLogger("alexnet_lightning")


def run_task(task: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Call ``task(cfg)``. A UserError ends a single run with its message and exit code 2; in a
    multirun it is raised, so Hydra records this job as failed and the sweep goes on. Any other
    failure is logged with the run folder's path, then raised with its traceback."""
    output_dir = OmegaConf.select(cfg, "paths.output_dir", default=None)
    try:
        return task(cfg)
    except optuna.TrialPruned:
        log.info("trial pruned by the Optuna sweeper; run folder: %s", output_dir)
        raise
    except UserError as err:
        log.error("%s", err)
        log.error("stopped before running; run folder: %s", output_dir)
        if _in_multirun():
            raise  # sys.exit here would end the whole sweep, not just this job
        sys.exit(2)
    except Exception:
        log.error("run failed; its folder (log, config, checkpoints): %s", output_dir)
        raise


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode.name == "MULTIRUN"


def optimized_value(metrics: dict[str, float], cfg: DictConfig) -> float | None:
    """The metric a Hydra sweeper maximises (``optimized_metric``), if the run produced it."""
    name = cfg.get("optimized_metric")
    return metrics.get(name) if name else None
