"""dataset_tools/photo_like.py: the synthetic-image writer the tools and the tests share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from alexnet_lightning.dataset_tools import photo_like
from alexnet_lightning.dataset_tools.photo_like import noise_image, write_photo_like


def test_noise_image_is_base_plus_noise_in_each_mode():
    image = noise_image(np.random.default_rng(0), (40, 30), base=(200, 100, 0), spread=20)
    pixels = np.asarray(image, dtype=int)
    assert image.mode == "RGB" and pixels.shape == (30, 40, 3)
    # uniform in [base - 20, base + 20), clipped at 0 for the last channel
    assert np.abs(pixels.reshape(-1, 3).mean(0) - [200, 100, 5]).max() < 2
    assert pixels[..., 0].min() >= 180 and pixels[..., 0].max() < 220
    again = noise_image(np.random.default_rng(0), (40, 30), base=(200, 100, 0), spread=20)
    assert np.array_equal(np.asarray(again), pixels)
    for mode, channels in (("L", 1), ("CMYK", 4)):
        other = noise_image(np.random.default_rng(1), (8, 6), mode=mode)
        assert other.mode == mode and len(other.getbands()) == channels and other.size == (8, 6)


def test_smooth_cells_are_upsampled_to_the_size():
    smooth = np.asarray(noise_image(np.random.default_rng(0), (100, 60), cell=10), dtype=int)
    sharp = np.asarray(noise_image(np.random.default_rng(0), (100, 60)), dtype=int)
    assert smooth.shape == sharp.shape == (60, 100, 3)
    # neighbours differ far less in the smooth image (cells of 10 px, bicubic in between)
    assert np.abs(np.diff(smooth, axis=1)).mean() < np.abs(np.diff(sharp, axis=1)).mean() / 4


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.jpg"))}


def test_the_tree_is_the_same_with_any_number_of_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(photo_like, "CHUNK", 3)  # 3 tasks of 8 images: the pool path
    names = ["n00000001", "n00000002"]
    one = write_photo_like(tmp_path / "one", 2, 3, (48, 36), 1, workers=1, class_names=names)
    two = write_photo_like(tmp_path / "two", 2, 3, (48, 36), 1, workers=2, class_names=names)
    files = _tree(one)
    assert files == _tree(two) and len(files) == 2 * (3 + 1)
    assert sorted({Path(name).parent.name for name in files}) == names
    with Image.open(one / "train" / names[1] / "00002.jpg") as image:
        assert image.format == "JPEG" and image.size == (48, 36)
    stamp = (one / "val" / names[0] / "00000.jpg").stat().st_mtime_ns
    write_photo_like(one, 2, 3, (48, 36), 1, workers=1, class_names=names)  # kept, not rewritten
    assert (one / "val" / names[0] / "00000.jpg").stat().st_mtime_ns == stamp
