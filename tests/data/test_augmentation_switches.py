"""data.hflip, data.train_crop=none, data.lighting_std=0 and data.normalize, for every
DataModule: with all three augmentations off, training batches are the evaluation batches."""

import shutil

import pytest
import torch

from alexnet_lightning.data.datamodule import standalone_trainer
from alexnet_lightning.data.folder_datamodule import ImageFolderDataModule
from alexnet_lightning.data.packed.datamodule import PackedDataModule
from alexnet_lightning.data.shapes_datamodule import ShapesDataModule
from alexnet_lightning.data.transforms import IMAGENET_MEAN, BatchAugment
from alexnet_lightning.dataset_tools.pack import pack_dataset
from tests.conftest import write_image_folder

NO_AUGMENTATION = {"train_crop": "none", "hflip": False, "lighting_std": 0.0}
LOADER = {"batch_size": 4, "num_workers": 0, "image_size": 64, "persistent_workers": False}


@pytest.fixture(scope="module")
def twin_folder(tmp_path_factory):
    """An ImageFolder tree whose val/ holds the very files of train/."""
    root = write_image_folder(
        tmp_path_factory.mktemp("twin") / "tree", ["ant", "bee", "cat"], {"train": 4}, (80, 72)
    )
    shutil.copytree(root / "train", root / "val")
    return root


def images_seen(dm, training: bool) -> list[tuple[int, bytes]]:
    """Every (label, network input) of the train or val loader, in a fixed order."""
    dm.trainer = standalone_trainer("cpu", training=training)
    dm.setup("fit")
    seen = []
    for batch in dm.train_dataloader() if training else dm.val_dataloader():
        x, y = dm.on_after_batch_transfer(batch, 0)
        seen += [(int(t), xi.contiguous().numpy().tobytes()) for xi, t in zip(x, y, strict=True)]
    return sorted(seen)


def shapes_twin(tmp_path, **options) -> ShapesDataModule:
    sizes = {"train_per_class": 3, "val_per_class": 1, "source_size": 72, "generator_seed": 0}
    dm = ShapesDataModule(str(tmp_path / "shapes"), num_classes=4, **sizes, **LOADER, **options)
    dm.prepare_data()
    shutil.rmtree(dm.root / "val")
    shutil.copytree(dm.root / "train", dm.root / "val")
    return dm


def build(kind: str, twin_folder, tmp_path, **options):
    if kind == "imagefolder":
        return ImageFolderDataModule(str(twin_folder), num_classes=3, **LOADER, **options)
    if kind == "shapes":
        return shapes_twin(tmp_path, **options)
    packed = tmp_path / "packed"
    if not packed.exists():
        pack_dataset(twin_folder, packed, side=73, workers=1, progress=False)
    in_loader = kind == "packed_in_loader"
    return PackedDataModule(str(packed), crop_in_loader=in_loader, **LOADER, **options)


KINDS = ["imagefolder", "shapes", "packed_on_device", "packed_in_loader"]


@pytest.mark.parametrize("kind", KINDS)
def test_without_augmentation_training_batches_are_the_eval_batches(kind, twin_folder, tmp_path):
    torch.manual_seed(0)
    off = build(kind, twin_folder, tmp_path, **NO_AUGMENTATION)
    train, val = images_seen(off, training=True), images_seen(off, training=False)
    assert len(train) == len(val) >= 12
    assert train == val
    # each switch alone brings its augmentation back
    for on in ({"hflip": True}, {"train_crop": "paper"}, {"lighting_std": 0.1}):
        dm = build(kind, twin_folder, tmp_path, **{**NO_AUGMENTATION, **on})
        assert images_seen(dm, training=True) != val, on


def test_normalize_false_feeds_the_papers_mean_subtracted_0_255_values():
    images = torch.tensor([0, 128, 255], dtype=torch.uint8).view(3, 1, 1).expand(3, 2, 2)
    batch = images.unsqueeze(0).contiguous()
    raw = BatchAugment(normalize=False)(batch, train=False)
    expected = torch.tensor([0.0, 128.0, 255.0]) - 255 * torch.tensor(IMAGENET_MEAN)
    torch.testing.assert_close(raw[0, :, 0, 0], expected)
    normalised = BatchAugment()(batch, train=False)
    assert normalised.abs().max() < 3 < raw.abs().max()
    # both invert back to the pixels, for the TensorBoard image grid
    for augment, x in ((BatchAugment(normalize=False), raw), (BatchAugment(), normalised)):
        torch.testing.assert_close(augment.denormalize(x), batch.float() / 255)
