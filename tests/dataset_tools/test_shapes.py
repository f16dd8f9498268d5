"""Tests for the built-in shapes dataset generator (tiny sizes: the whole file runs in seconds)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alexnet_lightning.dataset_tools.shapes import SHAPE_CLASSES, SOURCE, ensure_shapes_dataset
from alexnet_lightning.errors import ConfigError, DataError

SMALL = {"num_classes": 3, "train_per_class": 4, "val_per_class": 2, "image_size": 48, "seed": 0}


def _files(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> bytes)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def _assert_complete(root: Path, opts: dict[str, int]) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    classes = sorted(p.name for p in (root / "train").iterdir())
    assert manifest["classes"] == classes
    assert len(classes) == opts["num_classes"]
    for split, n in (("train", opts["train_per_class"]), ("val", opts["val_per_class"])):
        assert sorted(p.name for p in (root / split).iterdir()) == classes
        for cls in classes:
            assert len(list((root / split / cls).glob("*.jpg"))) == n
            assert manifest["counts"][split][cls] == n
    assert not list(root.parent.glob(f".{root.name}.partial-*"))
    assert not list(root.parent.glob(f".{root.name}.old-*"))


def test_layout_manifest_and_images(tmp_path: Path) -> None:
    root = tmp_path / "shapes"
    out = ensure_shapes_dataset(root, **SMALL)
    assert out == root.resolve()
    _assert_complete(root, SMALL)

    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["format"] == 1
    assert manifest["source"] == SOURCE
    assert manifest["names"] == list(SHAPE_CLASSES[:3])
    assert manifest["classes"] == ["00_circle", "01_square", "02_triangle"]
    assert manifest["options"] == SMALL

    for path in root.rglob("*.jpg"):
        with Image.open(path) as im:
            assert im.format == "JPEG"
            assert im.mode == "RGB"
            assert im.size == (48, 48)


def test_at_least_ten_distinct_classes() -> None:
    assert len(SHAPE_CLASSES) >= 10
    assert len(set(SHAPE_CLASSES)) == len(SHAPE_CLASSES)


def test_deterministic_across_folders(tmp_path: Path) -> None:
    a = ensure_shapes_dataset(tmp_path / "a", **SMALL)
    b = ensure_shapes_dataset(tmp_path / "b", **SMALL)
    assert _files(a) == _files(b)
    c = ensure_shapes_dataset(tmp_path / "c", **{**SMALL, "seed": 1})
    files_c = _files(c)
    assert files_c.keys() == _files(a).keys()
    assert files_c["train/00_circle/00000.jpg"] != _files(a)["train/00_circle/00000.jpg"]


def test_image_does_not_depend_on_other_arguments(tmp_path: Path) -> None:
    """Per-image seeding: more classes or images leave the existing images unchanged."""
    a = ensure_shapes_dataset(tmp_path / "a", **SMALL)
    bigger = {**SMALL, "num_classes": 4, "train_per_class": 6}
    b = ensure_shapes_dataset(tmp_path / "b", **bigger)
    files_a, files_b = _files(a), _files(b)
    for rel, data in files_a.items():
        if rel.endswith(".jpg"):
            assert files_b[rel] == data


def test_second_call_rewrites_nothing(tmp_path: Path) -> None:
    root = ensure_shapes_dataset(tmp_path / "shapes", **SMALL)
    before = _mtimes(root)
    assert ensure_shapes_dataset(root, **SMALL) == root
    assert _mtimes(root) == before


def test_other_arguments_rebuild(tmp_path: Path) -> None:
    root = ensure_shapes_dataset(tmp_path / "shapes", **SMALL)
    other = {**SMALL, "num_classes": 4, "val_per_class": 3}
    ensure_shapes_dataset(root, **other)
    _assert_complete(root, other)
    assert json.loads((root / "manifest.json").read_text())["options"] == other


@pytest.mark.parametrize("damage", ["missing_image", "missing_manifest", "corrupt_manifest"])
def test_half_written_dataset_is_rebuilt(tmp_path: Path, damage: str) -> None:
    root = ensure_shapes_dataset(tmp_path / "shapes", **SMALL)
    reference = _files(root)
    if damage == "missing_image":
        (root / "val" / "01_square" / "00001.jpg").unlink()
    elif damage == "missing_manifest":
        (root / "manifest.json").unlink()
    else:
        (root / "manifest.json").write_text('{"format": 1, "classes": [')
    ensure_shapes_dataset(root, **SMALL)
    _assert_complete(root, SMALL)
    assert _files(root) == reference


def test_leftover_partial_build_is_removed(tmp_path: Path) -> None:
    partial = tmp_path / ".shapes.partial-deadbeef"
    (partial / "train").mkdir(parents=True)
    (partial / "train" / "junk.jpg").write_bytes(b"half")
    root = ensure_shapes_dataset(tmp_path / "shapes", **SMALL)
    assert not partial.exists()
    _assert_complete(root, SMALL)


def test_foreign_folder_is_refused_and_untouched(tmp_path: Path) -> None:
    root = tmp_path / "mydata"
    (root / "train").mkdir(parents=True)
    (root / "notes.txt").write_text("precious")
    (root / "train" / "cat.jpg").write_bytes(b"not really a jpeg")
    before = _files(root)
    with pytest.raises(DataError, match="mydata") as info:
        ensure_shapes_dataset(root, **SMALL)
    assert "another data root" in str(info.value)
    assert _files(root) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".mydata.lock") == ["mydata"]


def test_foreign_manifest_is_refused(tmp_path: Path) -> None:
    """A dataset from another builder (e.g. an ImageNet subset) is not ours to delete."""
    root = tmp_path / "imagenet"
    root.mkdir()
    manifest = {"format": 1, "classes": [], "names": [], "counts": {}, "source": "other"}
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError):
        ensure_shapes_dataset(root, **SMALL)
    assert json.loads((root / "manifest.json").read_text()) == manifest


def test_empty_folder_at_root_is_used(tmp_path: Path) -> None:
    root = tmp_path / "shapes"
    root.mkdir()
    ensure_shapes_dataset(root, **SMALL)
    _assert_complete(root, SMALL)


def test_file_at_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "shapes"
    root.write_text("a file")
    with pytest.raises(DataError, match="shapes"):
        ensure_shapes_dataset(root, **SMALL)
    assert root.read_text() == "a file"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("num_classes", 1),
        ("num_classes", len(SHAPE_CLASSES) + 1),
        ("train_per_class", 0),
        ("val_per_class", 0),
        ("image_size", 31),
        ("seed", -1),
        ("image_size", 64.5),
        ("num_classes", True),
        ("train_per_class", "4"),
    ],
)
def test_bad_arguments_raise_config_error(tmp_path: Path, name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=name):
        ensure_shapes_dataset(tmp_path / "shapes", **{**SMALL, name: value})
    assert not (tmp_path / "shapes").exists()


@pytest.mark.slow
def test_two_processes_at_once_build_one_valid_dataset(tmp_path: Path) -> None:
    root = tmp_path / "shapes"
    opts = {**SMALL, "train_per_class": 12}
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=ensure_shapes_dataset, args=(str(root),), kwargs=opts) for _ in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    _assert_complete(root, opts)
    assert _files(root) == _files(ensure_shapes_dataset(tmp_path / "ref", **opts))
    for path in root.rglob("*.jpg"):
        with Image.open(path) as im:
            im.load()


def test_colour_carries_no_class_information(tmp_path: Path) -> None:
    """Mean RGB per class differs far less than it does between images."""
    opts = {
        "num_classes": 4,
        "train_per_class": 48,
        "val_per_class": 1,
        "image_size": 32,
        "seed": 0,
    }
    root = ensure_shapes_dataset(tmp_path / "shapes", **opts)
    per_class = []
    for cls in sorted(os.listdir(root / "train")):
        means = [
            np.asarray(Image.open(p), dtype=np.float64).mean(axis=(0, 1))
            for p in sorted((root / "train" / cls).glob("*.jpg"))
        ]
        per_class.append(np.stack(means))
    all_means = np.concatenate(per_class)
    spread_between_images = all_means.std(axis=0)  # per channel
    class_means = np.stack([m.mean(axis=0) for m in per_class])
    class_range = class_means.max(axis=0) - class_means.min(axis=0)
    assert np.all(spread_between_images > 20)
    assert np.all(class_range < 0.6 * spread_between_images), (class_range, spread_between_images)
