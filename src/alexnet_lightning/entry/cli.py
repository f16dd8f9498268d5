"""What every script does around its entry function: the config checked before the heavy
imports, user errors as one line, failures located."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from alexnet_lightning.config_checks import RULES, check_config
from alexnet_lightning.config_types import check_command_line_types
from alexnet_lightning.entry import launched_ranks  # noqa: F401  (registers rank_zero_dir)
from alexnet_lightning.errors import UserError
from alexnet_lightning.log_noise import one_copy_of_library_logs, silence_known_noise
from alexnet_lightning.sweeps.jobs import is_trial_pruned
from alexnet_lightning.utils import run_names  # noqa: F401  (registers tensorboard_run)

log = logging.getLogger("alexnet_lightning")

Task = Callable[[DictConfig], Any]


def run_task(task: str | Task, cfg: DictConfig) -> Any:
    """Check ``cfg``, then call ``task(cfg)``.

    ``task`` is the entry function or its ``"module:function"`` path. A path is imported only
    after the config passed its checks: torch and Lightning take seconds to import, and a
    typo should cost less than that. A UserError ends a single run with its message and exit
    code 2; in a multirun it is raised, so Hydra records this job as failed and the sweep goes
    on. Any other failure is logged with the run folder's path, then raised with its traceback.
    """
    output_dir = OmegaConf.select(cfg, "paths.output_dir", default=None)
    silence_known_noise()
    try:
        check_config(cfg)
        check_command_line_types(cfg, ruled=RULES)  # a key without a rule: its YAML's type
        work = _load(task)
        one_copy_of_library_logs()  # after the import: importing Lightning adds its handler
        return work(cfg)
    except UserError as err:
        log.error("%s", err)
        log.error("stopped; run folder: %s", output_dir)
        if _in_multirun():
            raise  # sys.exit here would end the whole sweep, not just this job
        sys.exit(2)
    except Exception as err:
        if is_trial_pruned(err):
            log.info("trial pruned by the Optuna sweeper; run folder: %s", output_dir)
        else:
            log.error("run failed; its folder (log, config, checkpoints): %s", output_dir)
        raise


def run_command(work: Callable[[], object]) -> int:
    """What an argparse script (download, subset, pack) does around its work: log lines as
    ``LEVEL: message``, a UserError as one ``error: ...`` line. Returns the exit code (2 for a
    user's mistake)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        work()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _load(task: str | Task) -> Task:
    if callable(task):
        return task
    module, _, name = task.partition(":")
    return getattr(importlib.import_module(module), name)


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode.name == "MULTIRUN"


def optimized_value(metrics: dict[str, float], cfg: DictConfig) -> float | None:
    """The metric a Hydra sweeper maximises (``optimized_metric``), if the run produced it."""
    name = cfg.get("optimized_metric")
    return metrics.get(name) if name else None
