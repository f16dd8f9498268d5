import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from alexnet_lightning.data.folder import load_rgb
from alexnet_lightning.data.folder_datamodule import ImageFolderDataModule
from alexnet_lightning.errors import DataError


def make(root, **kwargs):
    args = {"num_classes": 3, "batch_size": 4, "num_workers": 0, "image_size": 64}
    return ImageFolderDataModule(root=str(root), **{**args, **kwargs})


def test_loaders_give_uint8_batches_that_become_normalised_floats(image_folder):
    dm = make(image_folder)
    assert dm.inspect().classes == ["ant", "bee", "cat"]
    assert dm.inspect().split_sizes == {"train": 18, "val": 12}
    dm.setup("fit")
    images, targets = next(iter(dm.train_dataloader()))
    assert images.shape == (4, 3, 64, 64) and images.dtype == torch.uint8
    assert targets.dtype == torch.int64 and set(targets.tolist()) <= {0, 1, 2}
    out, _ = dm.on_after_batch_transfer((images, targets), 0)
    assert out.dtype == torch.float32 and -3 < out.mean() < 3
    assert len(dm.val_dataloader().dataset) == 12
    dm.setup("test")  # no test/ folder: test is val
    assert len(dm.test_dataloader().dataset) == 12


def test_class_names_come_from_the_manifest(image_folder):
    manifest = {"classes": ["ant", "bee", "cat"], "names": ["Ant", "Honey bee", "Cat"]}
    (image_folder / "manifest.json").write_text(json.dumps(manifest))
    assert make(image_folder).class_names == ["Ant", "Honey bee", "Cat"]


def test_num_classes_mismatch_names_the_fix(image_folder):
    with pytest.raises(DataError, match=r"data.num_classes=5 .* has 3 class folders"):
        make(image_folder, num_classes=5).inspect()


def test_missing_root_and_missing_val_are_named(image_folder, tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        make(tmp_path / "nowhere").inspect()
    for path in (image_folder / "val").rglob("*.jpg"):
        path.unlink()
    for folder in (image_folder / "val").iterdir():
        folder.rmdir()
    (image_folder / "val").rmdir()
    with pytest.raises(DataError, match=r"val is missing"):
        make(image_folder).inspect()


def test_empty_class_folder_is_named(image_folder):
    (image_folder / "train" / "dog").mkdir()
    (image_folder / "val" / "dog").mkdir()
    with pytest.raises(DataError, match=r"train/dog holds no images"):
        make(image_folder, num_classes=4).inspect()


def test_splits_with_different_classes_are_refused(image_folder):
    (image_folder / "val" / "cat").rename(image_folder / "val" / "cow")
    with pytest.raises(DataError, match="other class folders"):
        make(image_folder).inspect()


def write_odd_images(folder):
    """The files ImageNet really holds: CMYK and greyscale JPEGs, a PNG named .JPEG."""
    rgb = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("CMYK").save(folder / "cmyk.JPEG", format="JPEG")
    Image.fromarray(rgb).convert("L").save(folder / "grey.JPEG", format="JPEG")
    Image.fromarray(rgb).save(folder / "png_inside.JPEG", format="PNG")
    Image.fromarray(rgb).convert("P").save(folder / "palette.png")


def test_odd_image_formats_load_as_rgb(tmp_path):
    write_odd_images(tmp_path)
    for path in sorted(tmp_path.iterdir()):
        image = load_rgb(str(path))
        assert image.mode == "RGB" and image.size == (50, 40), path.name


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def test_unreadable_image_is_skipped_with_a_warning(image_folder, caplog):
    write_odd_images(image_folder / "train" / "ant")
    bad = image_folder / "train" / "ant" / "ant_000.jpg"
    truncate(bad)
    (image_folder / "train" / "bee" / "notes.png").write_text("not an image")
    dm = make(image_folder, batch_size=64)
    dm.setup("fit")
    loader = dm._loader("train", shuffle=False)
    with caplog.at_level(logging.WARNING):
        images, targets = next(iter(loader))
    # 18 generated + 4 odd but readable files + 1 text file; the text and truncated ones drop
    assert images.shape[0] == 18 + 4 + 1 - 2
    assert str(bad) in caplog.text and "notes.png" in caplog.text


def test_unreadable_image_stops_with_its_path_when_asked(image_folder):
    bad = image_folder / "val" / "bee" / "bee_001.jpg"
    truncate(bad)
    dm = make(image_folder, on_bad_image="raise", batch_size=64)
    dm.setup("fit")
    with pytest.raises(DataError, match=str(bad)):
        next(iter(dm.val_dataloader()))


def test_eval_shards_are_lightnings_unrepeated_sampler_and_too_few_images_is_one_message(
    image_folder, monkeypatch
):
    from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

    dm = make(image_folder)
    dm.setup("fit")
    monkeypatch.setattr(dm, "_ranks", lambda: (5, 4))  # rank 4 of 5: 12 images -> 2 of them
    loader = dm.val_dataloader()
    assert isinstance(loader.sampler, UnrepeatedDistributedSampler)
    assert list(loader.sampler) == [4, 9]
    monkeypatch.setattr(dm, "_ranks", lambda: (13, 0))
    with pytest.raises(DataError, match="the val split has 12 images, fewer than the 13"):
        dm.val_dataloader()


@pytest.mark.parametrize("source", ["folder", "packed"])
def test_the_test_split_is_the_sources_own_else_val(source, tmp_path):
    from alexnet_lightning.data.packed.datamodule import PackedDataModule
    from alexnet_lightning.dataset_tools.pack import pack_dataset
    from tests.conftest import write_image_folder

    sizes = {}
    for name, per_split in (("with", {"train": 2, "val": 3, "test": 5}), ("without", {})):
        tree = write_image_folder(
            tmp_path / name, ["a", "b"], per_split or {"train": 2, "val": 3}, size=(32, 32)
        )
        root = tree
        if source == "packed":
            root = pack_dataset(
                tree, tmp_path / f"{name}_packed", side=32, workers=1, progress=False
            )
        for test_split in ("test", "val"):
            kind = ImageFolderDataModule if source == "folder" else PackedDataModule
            dm = kind(
                root=str(root), num_classes=2, batch_size=4, num_workers=0, image_size=24,
                train_crop="none", test_split=test_split,
            )  # fmt: skip
            dm.setup("test")
            sizes[name, test_split] = len(dm.test_dataloader().dataset)
    # 2 classes x 5 test images, else the 2 x 3 val images
    assert sizes == {("with", "test"): 10, ("with", "val"): 6, ("without", "test"): 6,
                     ("without", "val"): 6}  # fmt: skip
