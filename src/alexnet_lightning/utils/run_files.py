"""What a run writes beside its checkpoints: the config tree, hyperparameters, metrics.json."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import rich
import rich.syntax
import rich.tree
import torch
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from alexnet_lightning import files
from alexnet_lightning.compat import tensorboard_file_writer
from alexnet_lightning.utils.hparams_session import hparams_summaries, session_end_summary
from alexnet_lightning.utils.run_names import trial_id

# The groups shown first in the printed config tree, in the order users read them.
TREE_ORDER = ("data", "model", "callbacks", "logger", "trainer", "paths")


@rank_zero_only
def print_config_tree(cfg: DictConfig, save_to: Path | None = None) -> None:
    """Print the resolved config as a rich tree and save the same text to `save_to`."""
    tree = rich.tree.Tree("CONFIG", style="dim", guide_style="dim")
    keys = [k for k in TREE_ORDER if k in cfg] + [k for k in cfg if k not in TREE_ORDER]
    for key in keys:
        branch = tree.add(str(key), style="bold", guide_style="dim")
        value = cfg[key]
        text = (
            OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        )
        branch.add(rich.syntax.Syntax(text, "yaml"))
    rich.print(tree)
    if save_to is not None:
        save_to.parent.mkdir(parents=True, exist_ok=True)
        with open(save_to, "w") as file:
            rich.print(tree, file=file)


def flatten(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a/b': 1}; lists become strings (TensorBoard's HParams takes scalars)."""
    flat: dict[str, Any] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}/"))
        elif isinstance(value, bool | int | float | str) or value is None:
            flat[name] = "null" if value is None else value
        else:
            flat[name] = str(value)
    return flat


@rank_zero_only
def log_hyperparameters(loggers: list[Logger], cfg: DictConfig) -> None:
    """Send the choices that define a run to every logger: the whole config to each logger's
    hparams.yaml, and TensorBoard's HParams session (the curated keys beside the metrics)."""
    chosen = {
        key: OmegaConf.to_container(cfg[key], resolve=True)
        for key in ("model", "data", "trainer")
        if key in cfg
    }
    params = flatten(chosen)
    params["seed"] = "null" if cfg.get("seed") is None else cfg.seed
    # the run's labels (train.yaml, experiments, tags=[...]): a column to filter runs by
    params["tags"] = ",".join(str(tag) for tag in cfg.get("tags") or [])
    for logger in loggers:
        logger.log_hyperparams(params)
        if isinstance(logger, TensorBoardLogger):
            writer = tensorboard_file_writer(logger.experiment)
            for summary in hparams_summaries(cfg, trial_id=trial_id(cfg.paths.output_dir)):
                writer.add_summary(summary)


@contextmanager
def hparams_session_end(loggers: list[Logger], resumable_exit: int) -> Iterator[None]:
    """Record how the run inside ends in its HParams session: ``success``, or ``failure`` for an
    exception (Ctrl-C and a pruned Optuna trial too; the protocol has no "killed"). A run
    stopped by a signal after saving last.ckpt (SystemExit ``resumable_exit``) records nothing:
    SLURM requeues it into the same folder, and TensorBoard keeps the first end it reads."""
    try:
        yield
    except SystemExit as stop:
        if stop.code != resumable_exit:
            _end_session(loggers, "failure")
        raise
    except BaseException:
        _end_session(loggers, "failure")
        raise
    _end_session(loggers, "success")


@rank_zero_only
def _end_session(loggers: list[Logger], status: str) -> None:
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            writer = logger.experiment  # Lightning closed it after fit: this reopens it
            tensorboard_file_writer(writer).add_summary(session_end_summary(status))
            writer.close()


def to_floats(metrics: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, int | float):
            out[key] = float(value)
    return out


@rank_zero_only
def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """A run's JSON file (metrics.json, predictions.json) in the run layout: sorted, indented,
    written by rank zero only (every rank holds the same numbers)."""
    files.write_json(path, data, indent=2, sort_keys=True, end="\n")
