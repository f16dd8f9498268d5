"""Tiny fake ILSVRC2012 trees in the three source layouts, for the subset builder's tests.

The first class also gets the awkward files real ImageNet has: a CMYK JPEG, a greyscale JPEG,
a PNG named .JPEG, and (unlike ImageNet) a truncated JPEG that must be skipped.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from alexnet_lightning.dataset_tools.photo_like import noise_image

WNIDS = ["n01440764", "n02102040", "n02979186"]
# Devkit IDs deliberately not in sorted-wnid order, as in the real meta.mat.
DEVKIT_IDS = {"n01440764": 449, "n02102040": 218, "n02979186": 483}
KAGGLE_NAMES = {w: f"{w} name from kaggle" for w in WNIDS}
DEVKIT_NAMES = {w: f"{w} name from meta.mat" for w in WNIDS}
SPECIAL_SUFFIXES = ("cmyk", "grey", "png", "truncated")


def _jpeg_bytes(size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> bytes:
    # Noise, so a truncated file really lacks image data (a flat colour compresses to nothing).
    image = noise_image(np.random.default_rng(seed), size, mode=mode)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def write_image(path: Path, size: tuple[int, int] = (64, 48), seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_jpeg_bytes(size, seed=seed))


def write_specials(folder: Path, wnid: str) -> dict[str, Path]:
    """The awkward files, named so they sort after the normal ones."""
    paths = {s: folder / f"{wnid}_9{i}_{s}.JPEG" for i, s in enumerate(SPECIAL_SUFFIXES)}
    paths["cmyk"].write_bytes(_jpeg_bytes((40, 56), "CMYK", seed=1))
    paths["grey"].write_bytes(_jpeg_bytes((56, 40), "L", seed=2))
    buffer = io.BytesIO()
    Image.new("P", (24, 24), 3).save(buffer, "PNG")
    paths["png"].write_bytes(buffer.getvalue())
    whole = _jpeg_bytes((64, 64), seed=3)
    paths["truncated"].write_bytes(whole[: len(whole) // 2])
    return paths


def make_source(
    root: Path, layout: str, n_train: int = 3, n_val: int = 2, specials: bool = True
) -> dict:
    """Build a fake source; returns what the tests need to check the result."""
    # train/val: decodable images per class (what a build should deliver).
    info: dict = {"root": root, "layout": layout, "train": {}, "val": {}, "truncated": None}
    if layout == "kaggle":
        data = root / "ILSVRC" / "Data" / "CLS-LOC"
        train_dir, val_dir = data / "train", data / "val"
    else:
        train_dir, val_dir = root / "train", root / "val"
    val_labels: list[tuple[str, str]] = []
    number = 0
    for c, wnid in enumerate(WNIDS):
        folder = train_dir / wnid
        for i in range(n_train):
            size = (64, 48) if i % 2 else (40, 60)
            write_image(folder / f"{wnid}_{i:04d}.JPEG", size, seed=c * 100 + i)
        count = n_train
        if specials and c == 0:
            paths = write_specials(folder, wnid)
            info["truncated"] = paths["truncated"]
            count += len(paths) - 1
        info["train"][wnid] = count
        for _ in range(n_val):
            number += 1
            name = f"ILSVRC2012_val_{number:08d}"
            target = val_dir / wnid if layout == "sorted" else val_dir
            write_image(target / f"{name}.JPEG", (50, 50), seed=1000 + number)
            val_labels.append((name, wnid))
        info["val"][wnid] = n_val
    if layout == "kaggle":
        rows = ["ImageId,PredictionString"] + [
            f"{name},{wnid} 1 2 30 40 {wnid} 5 5 20 20" for name, wnid in val_labels
        ]
        (root / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
        mapping = [f"{w} {KAGGLE_NAMES[w]}" for w in WNIDS]
        (root / "LOC_synset_mapping.txt").write_text("\n".join(mapping) + "\n")
    elif layout == "devkit":
        data = root / "ILSVRC2012_devkit_t12" / "data"
        data.mkdir(parents=True)
        truth = [str(DEVKIT_IDS[wnid]) for _, wnid in val_labels]
        (data / "ILSVRC2012_validation_ground_truth.txt").write_text("\n".join(truth) + "\n")
        write_meta_mat(data / "meta.mat")
    return info


def write_meta_mat(path: Path, compress: bool = True) -> None:
    """A meta.mat in the devkit's layout: leaf synsets (IDs 1..1000) plus a non-leaf one."""
    fields = ("ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children")
    rows = [(DEVKIT_IDS[w], w, DEVKIT_NAMES[w], 0) for w in WNIDS]
    rows.insert(1, (1, "n02119789", "kit fox, Vulpes macrotis", 0))
    rows.append((1001, "n00001740", "entity", 3))
    synsets = np.empty((len(rows), 1), dtype=[(f, object) for f in fields])
    for i, (ilsvrc_id, wnid, words, children) in enumerate(rows):
        # MATLAB keeps numbers as 1x1 doubles; a leaf's children is an empty matrix
        kids = np.zeros((1, 0)) if not children else np.arange(1.0, children + 1)[None]
        synsets[i, 0] = (float(ilsvrc_id), wnid, words, f"gloss of {wnid}", float(children), kids)
    scipy.io.savemat(path, {"synsets": synsets}, do_compression=compress)
