"""``scripts/neighbours.py``: the paper's Figure 4 for a checkpoint, from the checkpoint alone
and the data config (as eval.py)."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from pathlib import Path

import torch
from hydra.utils import instantiate
from lightning.fabric.utilities.apply_func import move_data_to_device
from omegaconf import DictConfig
from PIL import Image

from alexnet_lightning.analysis.neighbours import (
    Batch,
    LastHiddenFeatures,
    nearest_training_images,
    neighbours_figure,
    rows_at,
    spread,
)
from alexnet_lightning.checkpoints import check_fits, load_classifier
from alexnet_lightning.data.datamodule import standalone_trainer
from alexnet_lightning.entry.evaluate import INPUT_SETTINGS
from alexnet_lightning.errors import ConfigError
from alexnet_lightning.models.variants import net_name
from alexnet_lightning.utils.instantiate import instantiate_loggers
from alexnet_lightning.utils.run_files import print_config_tree

log = logging.getLogger(__name__)


def split_batches(datamodule, device: torch.device) -> Iterator[Batch]:
    """The DataModule's test split, in order, as evaluation sees it (its crops and
    normalisation on ``device``): (network input, the same as [0, 1] images, labels)."""
    trainer = standalone_trainer(device, training=False)
    trainer.testing = True  # the packed sources pick the split's arrays by it
    datamodule.trainer = trainer
    datamodule.setup("test")
    for batch in datamodule.test_dataloader():
        batch = move_data_to_device(datamodule.on_before_batch_transfer(batch, 0), device)
        inputs, labels = datamodule.on_after_batch_transfer(batch, 0)
        if inputs.numel():
            yield inputs, datamodule.augment.denormalize(inputs.float()), labels


def neighbours(cfg: DictConfig) -> Path:
    """Writes neighbours.png (queries in the first column) and neighbours.csv into the run
    folder, and the figure to TensorBoard; returns the PNG's path."""
    if not cfg.get("ckpt_path"):
        raise ConfigError("ckpt_path is not set; pass ckpt_path=.../checkpoints/best.ckpt")
    output_dir = Path(cfg.paths.output_dir)
    print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    auto = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(auto if cfg.device == "auto" else cfg.device)

    model, trained_data = load_classifier(cfg.ckpt_path)
    features = LastHiddenFeatures(model.net).to(device)  # before the data: a net may name none
    inputs = {k: trained_data[k] for k in INPUT_SETTINGS if k in trained_data}
    # the training split through the test loader: evaluation's centre crop, in order
    train_data = instantiate(cfg.data, test_split="train", **inputs)
    query_data = instantiate(cfg.data, test_split=cfg.split, **inputs)
    train_data.prepare_data()
    info = train_data.inspect()
    check_fits(model, len(info.classes), cfg.ckpt_path)

    query_rows = spread(cfg.queries, len(_dataset(query_data, device)))
    queries = rows_at(split_batches(query_data, device), query_rows)
    train_set = _dataset(train_data, device)
    total = -(-len(train_set) // train_data.hparams.batch_size)
    found = nearest_training_images(
        features,
        queries,
        split_batches(train_data, device),
        k=cfg.neighbours,
        chunk_size=cfg.chunk_size,
        total=total,
    )
    names = info.names
    title = (
        f"{cfg.split} images (first column) and their {cfg.neighbours} nearest training images "
        f"by {features.layer} features ({net_name(model.hparams.net)})"
    )
    image = neighbours_figure(queries[1], found.payloads[0], title)
    png = output_dir / "neighbours.png"
    Image.fromarray(image).save(png, optimize=True)
    _write_csv(output_dir / "neighbours.csv", query_rows, queries[2], found, names)
    for logger in instantiate_loggers(cfg.get("logger")):
        experiment = getattr(logger, "experiment", None)
        if hasattr(experiment, "add_image"):
            experiment.add_image("neighbours", image, 0, dataformats="HWC")
            experiment.flush()
    log.info("nearest neighbours of %d %s images: %s", len(query_rows), cfg.split, png)
    return png


def _dataset(datamodule, device: torch.device) -> torch.utils.data.Dataset:
    """The DataModule's test split, set up (its size decides the queries and the bar)."""
    datamodule.trainer = standalone_trainer(device, training=False)
    datamodule.setup("test")
    return datamodule.datasets["test"]


def _write_csv(path: Path, rows: list[int], labels: torch.Tensor, found, names: list[str]) -> None:
    neighbour_labels = found.payloads[1].tolist()
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["query", "query_class", "rank", "train_index", "train_class", "distance"])
        for q, row in enumerate(rows):
            for rank in range(found.indices.shape[1]):
                writer.writerow(
                    [
                        row,
                        names[int(labels[q])],
                        rank + 1,
                        int(found.indices[q, rank]),
                        names[int(neighbour_labels[q][rank])],
                        f"{float(found.distances[q, rank]):.6g}",
                    ]
                )
