"""The paper's ten-crop test: its views (per file, and a pack's equal to them), the averaged
softmax, and the normalisation of a multi-view batch."""

import pytest
import torch
from PIL import Image

from alexnet_lightning.data.folder_datamodule import ImageFolderDataModule
from alexnet_lightning.data.packed.datamodule import PackedDataModule
from alexnet_lightning.data.transforms import BatchAugment, ten_crop
from alexnet_lightning.dataset_tools.pack import pack_dataset
from tests.conftest import write_image_folder

CLASSIFIER_ARGS = {
    "net": {"variant": "half", "num_classes": 3, "dropout": 0.0},
    "optimizer": {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.01},
}


def test_ten_crop_gives_corners_centre_and_their_mirrors():
    image = Image.fromarray(
        torch.randint(0, 256, (80, 100, 3), dtype=torch.uint8).numpy()
    )  # resize_ratio 1: the 64 crops come straight from the 64-high image
    views = ten_crop(64, resize_ratio=1.0)(image)
    assert views.shape == (10, 3, 64, 64) and views.dtype == torch.uint8
    # The last five are the first five of the mirrored image: corners swap left and right.
    for mirrored, original in zip(range(5, 10), (1, 0, 3, 2, 4), strict=True):
        assert torch.equal(views[mirrored], views[original].flip(-1))
    assert not torch.equal(views[0], views[1])


@pytest.mark.parametrize("in_loader", [False, True], ids=["on_device", "in_loader"])
@pytest.mark.parametrize(
    ("views", "shape"), [("ten_crop", (6, 10, 3, 64, 64)), ("center", (6, 3, 64, 64))]
)
def test_a_packs_test_views_equal_the_per_image_path_bitwise(tmp_path, in_loader, views, shape):
    # square files: the pack's central square is the whole (resized) image
    tree = write_image_folder(tmp_path / "t", ["a", "b"], {"train": 1, "val": 3}, size=(80, 80))
    options = {"image_size": 64, "test_views": views, "batch_size": 6, "num_workers": 0}
    per_image = ImageFolderDataModule(str(tree), **options)
    per_image.setup("test")
    expected, targets = next(iter(per_image.test_dataloader()))
    packed = pack_dataset(tree, tmp_path / "packed", side=80, workers=1, progress=False)
    module = PackedDataModule(str(packed), crop_in_loader=in_loader, **options)
    module.setup("test")
    images, packed_targets, _, draws = next(iter(module.test_dataloader()))
    if not in_loader:  # the batch hook's crop, as on an accelerator
        images = module._crop(images.permute(0, 3, 1, 2), draws, split="test")
    assert images.shape == shape and torch.equal(packed_targets, targets)
    assert torch.equal(images, expected)


def test_eval_normalisation_of_a_view_batch_is_that_of_each_view():
    augment = BatchAugment(mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    views = torch.randint(0, 256, (2, 10, 3, 8, 8), dtype=torch.uint8)
    out = augment(views, train=False)
    assert out.shape == views.shape
    torch.testing.assert_close(out[1, 7], augment(views[1, 7:8], train=False)[0])
    with pytest.raises(ValueError, match="evaluation only"):
        augment(views, train=True)


class FixedViewLogits(torch.nn.Module):
    """A stand-in network: the logits of each view are fixed; pixel [0, 0, 0] says which view."""

    def __init__(self, logits_per_view: torch.Tensor) -> None:
        super().__init__()
        self.logits_per_view = logits_per_view
        # AlexNetClassifier.num_classes reads the last layer's width
        self.classifier = torch.nn.Sequential(torch.nn.Linear(1, logits_per_view.shape[1]))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits_per_view[images[:, 0, 0, 0].long()]


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_ten_crop_averages_the_softmax_of_the_views():
    """Paper, section 4.1: the prediction is the softmax averaged over the ten views. Built so
    that averaging the logits, or the centre view alone, predicts another class."""
    from alexnet_lightning.models.classifier import AlexNetClassifier

    model = AlexNetClassifier(**CLASSIFIER_ARGS)
    # torchvision's TenCrop order: 4 corners, centre, then the same 5 flipped; centre = view 4
    logits = torch.tensor([[2.0, 0.0, 0.0]] * 10)
    logits[4] = torch.tensor([0.0, 100.0, 0.0])  # the centre view is very sure of class 1
    model.net = FixedViewLogits(logits)
    views = torch.arange(10.0).view(1, 10, 1, 1, 1).expand(1, 10, 3, 8, 8).clone()
    target = torch.tensor([0])

    out = model.test_step((views, target), 0)

    probs = logits.softmax(dim=1).mean(dim=0)  # ~(0.71, 0.20, 0.09)
    assert logits.mean(dim=0).argmax() == 1 and logits[4].argmax() == 1  # the wrong answers
    assert probs.argmax() == 0
    assert out["preds"].tolist() == [0]
    torch.testing.assert_close(out["loss"], -probs[0].log())  # NLL of the averaged softmax
    assert model.test_metrics["acc"].compute().item() == 1.0
