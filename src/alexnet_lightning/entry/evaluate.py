"""Evaluation entry point: a checkpoint on the val or test split, with per-class accuracy."""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import rich
from hydra.utils import instantiate
from omegaconf import DictConfig

from alexnet_lightning.callbacks.tensorboard_images import ConfusionMatrixLogger
from alexnet_lightning.checkpoints import check_fits, load_classifier
from alexnet_lightning.entry.accuracy_table import accuracy_table
from alexnet_lightning.entry.ensemble import checkpoint_paths, ensemble_metrics
from alexnet_lightning.errors import ConfigError
from alexnet_lightning.utils.instantiate import instantiate_loggers, instantiate_trainer
from alexnet_lightning.utils.run_files import (
    log_hyperparameters,
    print_config_tree,
    to_floats,
    write_json,
)

log = logging.getLogger(__name__)

# Settings that define what the network was trained to see; eval takes them from the checkpoint.
INPUT_SETTINGS = ("image_size", "eval_resize_ratio", "mean", "std", "normalize")


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Top-1/top-5, per-class accuracy and the confusion matrix of ``cfg.ckpt_path``; with
    several checkpoints (a list, or ``sweep=``), each one's and their ensemble's accuracy.

    Writes metrics.json (``test/acc_class/<class name>`` keys beside the logged ones; an
    ensemble's ``test/member<i>/...``, ``test/member_mean/...``, ``test/ensemble/...``) and,
    for one checkpoint, confusion_matrix.csv into ``cfg.paths.output_dir``.
    """
    if not cfg.get("ckpt_path") and not cfg.get("sweep"):
        raise ConfigError("ckpt_path is not set; pass ckpt_path=.../checkpoints/best.ckpt")
    output_dir = Path(cfg.paths.output_dir)
    print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    paths = checkpoint_paths(cfg)
    if len(paths) > 1:
        return _evaluate_ensemble(cfg, paths, output_dir)

    model, trained_data = load_classifier(paths[0])
    inputs = {k: trained_data[k] for k in INPUT_SETTINGS if k in trained_data}
    log.info("input settings from the checkpoint: %s", inputs)
    datamodule = instantiate(cfg.data, test_split=cfg.split, **inputs)
    datamodule.prepare_data()
    info = datamodule.inspect()
    check_fits(model, len(info.classes), paths[0])

    confusion = ConfusionMatrixLogger()
    trainer = instantiate_trainer(
        cfg.trainer, callbacks=[confusion], logger=instantiate_loggers(cfg.get("logger"))
    )
    log_hyperparameters(trainer.loggers, cfg)  # with logger=..., the data, trainer and tags
    trainer.test(model, datamodule=datamodule, verbose=False)
    metrics = to_floats(trainer.callback_metrics)

    matrix = confusion.matrices["test"]
    if cfg.tta == "ten_crop":
        metrics.update(ten_crop_metrics(cfg, trainer, model, inputs))

    per_class = matrix.diag().float() / matrix.sum(dim=1).clamp(min=1).float()
    for name, acc in zip(info.names, per_class.tolist(), strict=True):
        metrics[f"test/acc_class/{name}"] = acc
    if trainer.is_global_zero:
        _write_confusion_csv(output_dir / "confusion_matrix.csv", info.names, matrix.tolist())
    write_json(output_dir / "metrics.json", metrics)
    title = f"{cfg.split} accuracy of {paths[0]}"
    rich.print(accuracy_table(title, [("checkpoint", "test/")], metrics, cfg.tta == "ten_crop"))
    return metrics


def _evaluate_ensemble(cfg: DictConfig, paths: list[str], output_dir: Path) -> dict[str, float]:
    probe = instantiate(cfg.data, test_split=cfg.split)
    probe.prepare_data()
    metrics = ensemble_metrics(cfg, paths, INPUT_SETTINGS, len(probe.inspect().classes))
    write_json(output_dir / "metrics.json", metrics)
    rows = [(f"member {i}", f"test/member{i}/") for i in range(len(paths))]
    rows += [("mean of the members", "test/member_mean/"), ("ensemble", "test/ensemble/")]
    title = f"{cfg.split} accuracy of {len(paths)} networks and their ensemble (mean softmax)"
    caption = "\n".join(f"member {i}: {p}" for i, p in enumerate(paths))
    rich.print(accuracy_table(title, rows, metrics, cfg.tta == "ten_crop", caption))
    return metrics


def ten_crop_metrics(
    cfg: DictConfig, trainer: L.Trainer, model: L.LightningModule, inputs: Mapping[str, Any]
) -> dict[str, float]:
    """Test ``model`` again on the paper's ten views of ``cfg.split`` (eval.py tta=ten_crop):
    ``test/<metric>_ten_crop``. ``inputs`` are the checkpoint's input settings, as for the
    single-crop test."""
    datamodule = instantiate(cfg.data, test_split=cfg.split, test_views="ten_crop", **inputs)
    trainer.test(model, datamodule=datamodule, verbose=False)
    return {
        f"{key}_ten_crop": value
        for key, value in to_floats(trainer.callback_metrics).items()
        if key.startswith("test/")
    }


def _write_confusion_csv(path: Path, names: list[str], rows: list[list[int]]) -> None:
    """Rows are true classes, columns predicted classes."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["true \\ predicted", *names])
        for name, row in zip(names, rows, strict=True):
            writer.writerow([name, *row])
