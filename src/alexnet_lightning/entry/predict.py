"""Prediction entry point: class names with probabilities for an image or a folder of images."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import rich
import rich.table
import torch
from omegaconf import DictConfig
from PIL import UnidentifiedImageError

from alexnet_lightning.checkpoints import load_classifier
from alexnet_lightning.data.folder import load_rgb
from alexnet_lightning.data.manifest import IMAGE_EXTENSIONS, is_image_file
from alexnet_lightning.data.transforms import (
    EVAL_RESIZE_RATIO,
    IMAGENET_MEAN,
    IMAGENET_STD,
    BatchAugment,
    eval_crop,
)
from alexnet_lightning.errors import ConfigError, DataError
from alexnet_lightning.utils.run_files import write_json

log = logging.getLogger(__name__)


def list_images(inputs: str | Path) -> list[Path]:
    """One image file, or every image under a folder (recursively), sorted."""
    path = Path(inputs).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"inputs={path} does not exist; pass an image file or a folder of images")
    files = sorted(p for p in path.rglob("*") if p.is_file() and is_image_file(p))
    if not files:
        raise DataError(f"inputs={path} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


@torch.inference_mode()
def predict(cfg: DictConfig) -> list[dict]:
    """Top-k predictions per image; printed as a table and written to predictions.csv/.json."""
    if not cfg.get("ckpt_path"):
        raise ConfigError("ckpt_path is not set; pass ckpt_path=.../checkpoints/best.ckpt")
    if not cfg.get("inputs"):
        raise ConfigError("inputs is not set; pass inputs=path/to/image_or_folder")
    model, data = load_classifier(cfg.ckpt_path)
    device = torch.device(
        cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    model.to(device)
    names = model.hparams.class_names or [str(i) for i in range(model.num_classes)]
    crop = eval_crop(data.get("image_size", 224), data.get("eval_resize_ratio", EVAL_RESIZE_RATIO))
    to_network = BatchAugment(
        data.get("mean", IMAGENET_MEAN),
        data.get("std", IMAGENET_STD),
        normalize=data.get("normalize", True),
    )
    k = min(cfg.top_k, model.num_classes)

    files = list_images(cfg.inputs)
    results: list[dict] = []
    for start in range(0, len(files), cfg.batch_size):
        batch_files, tensors = [], []
        for path in files[start : start + cfg.batch_size]:
            try:
                tensors.append(crop(load_rgb(str(path))))
                batch_files.append(path)
            except (OSError, UnidentifiedImageError, ValueError) as err:
                log.warning("skipping unreadable image %s (%s)", path, err)
        if not tensors:
            continue
        images = to_network(torch.stack(tensors).to(device), train=False)
        probs = model(images).softmax(dim=1)
        top_p, top_i = probs.topk(k, dim=1)
        for path, p_row, i_row in zip(batch_files, top_p.tolist(), top_i.tolist(), strict=True):
            results.append(
                {
                    "file": str(path),
                    "top": [
                        {"class": names[i], "prob": p} for i, p in zip(i_row, p_row, strict=True)
                    ],
                }
            )
    _report(results, Path(cfg.paths.output_dir))
    return results


def _report(results: list[dict], output_dir: Path) -> None:
    table = rich.table.Table("file", "prediction", "probability", "next guesses")
    for r in results:
        best, rest = r["top"][0], r["top"][1:]
        table.add_row(
            r["file"],
            best["class"],
            f"{best['prob']:.3f}",
            ", ".join(f"{t['class']} {t['prob']:.3f}" for t in rest),
        )
    rich.print(table)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(output_dir / "predictions.json", {"predictions": results})
    with open(output_dir / "predictions.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "rank", "class", "prob"])
        for r in results:
            for rank, t in enumerate(r["top"], 1):
                writer.writerow([r["file"], rank, t["class"], f"{t['prob']:.6f}"])
