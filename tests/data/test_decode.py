"""The fast data path: decoders, reduced-size JPEG decoding, batch decoding on the device, and
the uint8-then-augment-on-device split against plain per-image CPU transforms."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from alexnet_lightning.data.batch_crops import resized_crops
from alexnet_lightning.data.datamodule import standalone_trainer
from alexnet_lightning.data.decode import (
    DecodeRandomResizedCrop,
    DecodeShorterSide,
    decode_rgb,
    draft_factor,
)
from alexnet_lightning.data.device_decode import _canvas
from alexnet_lightning.data.folder import load_rgb
from alexnet_lightning.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    BatchAugment,
    PCALighting,
    eval_crop,
)
from alexnet_lightning.errors import ConfigError, DataError
from tests.conftest import write_image_folder
from tests.data.test_datamodule import make, truncate, write_odd_images


def smooth_jpeg(path, size):
    """A photo-like JPEG: smooth gradients, so decoding at reduced size is nearly lossless."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([x / w * 255, y / h * 255, 128 + 100 * np.sin(x / 37 + y / 53)], axis=-1)
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(path, quality=95)
    return str(path)


def test_draft_factor_keeps_at_least_the_needed_size():
    assert draft_factor((1600, 1200), (256, 256)) == 4
    assert draft_factor((1600, 1200), (300, 300)) == 4
    assert draft_factor((1600, 1200), (301, 301)) == 2
    assert draft_factor((500, 375), (293, 220)) == 1
    assert draft_factor((500, 375), (60, 45)) == 8
    assert draft_factor((80, 80), (100, 100)) == 1  # never below 1, even when upscaling


@pytest.mark.parametrize("decoder", ["pil", "auto"])
def test_reduced_decoding_changes_nothing_for_small_images(tmp_path, decoder):
    path = smooth_jpeg(tmp_path / "small.jpg", (80, 72))
    plain = v2.Compose([v2.RandomResizedCrop(64, scale=(0.5, 1.0)), v2.PILToTensor()])
    fast = DecodeRandomResizedCrop(64, scale=(0.5, 1.0), decoder=decoder)
    for seed in range(5):
        torch.manual_seed(seed)
        expected = plain(load_rgb(path))
        torch.manual_seed(seed)
        got = fast(path)
        if decoder == "pil":
            assert torch.equal(got, expected)
        else:  # torchvision decodes the same pixels; its tensor resize rounds differently
            assert (got.float() - expected.float()).abs().mean() < 1.0
    torch.manual_seed(0)
    assert torch.equal(
        DecodeShorterSide(73, eval_crop(64), decoder="pil")(path), eval_crop(64)(load_rgb(path))
    )


def test_reduced_decoding_draws_the_same_crops_as_full_decoding(tmp_path):
    path = smooth_jpeg(tmp_path / "large.jpg", (1600, 1200))
    with Image.open(path) as image:
        pixels, scale = decode_rgb(image, (256, 256), "auto")
    assert isinstance(pixels, Image.Image) and pixels.size == (400, 300) and scale == (4.0, 4.0)

    reduced = DecodeRandomResizedCrop(64, scale=(0.2, 1.0), decoder="pil")
    full = DecodeRandomResizedCrop(64, scale=(0.2, 1.0), decoder="pil", reduced_decode=False)
    for seed in range(4):
        torch.manual_seed(seed)
        a = reduced(path)
        after_reduced = torch.get_rng_state()
        torch.manual_seed(seed)
        b = full(path)
        assert torch.equal(after_reduced, torch.get_rng_state())  # the same random draws
        assert a.shape == b.shape == (3, 64, 64)
        assert (a.float() - b.float()).abs().mean() < 2.0  # the same region, resampled

    side = DecodeShorterSide(256, eval_crop(224), decoder="pil")
    plain = DecodeShorterSide(256, eval_crop(224), decoder="pil", reduced_decode=False)
    assert (side(path).float() - plain(path).float()).abs().mean() < 2.0


def test_auto_uses_torchvision_when_nothing_can_be_saved(tmp_path):
    path = smooth_jpeg(tmp_path / "mid.jpg", (500, 375))
    with Image.open(path) as image:
        pixels, scale = decode_rgb(image, (293, 220), "auto")
    assert isinstance(pixels, torch.Tensor) and pixels.shape == (3, 375, 500)
    assert scale == (1.0, 1.0)
    with Image.open(path) as image:
        via_pil, _ = decode_rgb(image, None, "pil")
    # both are libjpeg-turbo: the same pixels, whichever library calls it
    assert torch.equal(pixels, v2.functional.pil_to_tensor(via_pil))


@pytest.mark.parametrize("decoder", ["auto", "pil", "torchvision"])
def test_every_decoder_reads_odd_files_and_names_broken_ones(tmp_path, decoder):
    write_odd_images(tmp_path)
    crop = DecodeShorterSide(40, eval_crop(32), decoder=decoder)
    for path in sorted(tmp_path.iterdir()):
        assert crop(str(path)).shape == (3, 32, 32), path.name
    bad = tmp_path / "cmyk.JPEG"
    truncate(bad)
    with pytest.raises(OSError, match="truncated|broken|corrupt"):
        crop(str(bad))


def test_unknown_decoder_is_named():
    with pytest.raises(ConfigError, match="data.decoder='nvjpeg'"):
        DecodeRandomResizedCrop(64, decoder="nvjpeg")


def batches(dm, split, count, training):
    """Loader batches as the trainer would see them after transfer to the (CPU) device."""
    dm.trainer = standalone_trainer("cpu", training)
    loader = dm.train_dataloader() if split == "train" else dm.val_dataloader()
    out = []
    for batch, _ in zip(loader, range(count), strict=False):
        batch = dm.on_before_batch_transfer(batch, 0)
        out.append(dm.on_after_batch_transfer(batch, 0))
    return out


def _pixels(batch):
    """A normalised batch back to 0-255 pixel values."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (batch * std + mean) * 255


def _both_paths(folder, split, **options):
    results = {}
    for on_device in (False, True):
        dm = make(
            folder, batch_size=4, decoder="torchvision", decode_on_device=on_device, **options
        )
        dm.setup("fit")
        torch.manual_seed(3)
        results[on_device] = batches(dm, split, 3, training=split == "train")
    return zip(results[False], results[True], strict=True)


@pytest.mark.parametrize(
    ("split", "train_crop"), [("train", "random_resized"), ("train", "paper"), ("val", None)]
)
def test_decoding_batches_on_the_device_gives_the_loader_path_s_tensors(
    image_folder, split, train_crop
):
    """80x72 files, 64-pixel crops: every crop resizes, and roi_align's interpolation differs
    from the workers' antialiased resize by about a grey level on average."""
    options = {"train_crop": train_crop} if train_crop else {}
    for (a, ya), (b, yb) in _both_paths(image_folder, split, **options):
        assert a.dtype == b.dtype == torch.float32 and a.shape == b.shape == (4, 3, 64, 64)
        assert torch.equal(ya, yb)
        diff = (_pixels(a) - _pixels(b)).abs()
        # the same boxes (a wrong draw or offset is tens of grey levels off on average)
        assert diff.mean() < 2.5, diff.mean()
        assert diff.quantile(0.99) < 16, diff.quantile(0.99)


@pytest.mark.parametrize(("split", "train_crop"), [("train", "paper"), ("val", None)])
def test_device_crops_that_need_no_resize_are_exact(tmp_path, split, train_crop):
    # 73 px = 64 x 256/224: the shorter side needs no resize, so both paths only cut pixels
    folder = write_image_folder(tmp_path / "f", ["a", "b", "c"], {"train": 6, "val": 4}, (90, 73))
    options = {"train_crop": train_crop} if train_crop else {}
    for (a, ya), (b, yb) in _both_paths(folder, split, **options):
        assert torch.equal(ya, yb)
        assert torch.equal(a, b)


def test_crops_from_a_padded_canvas_never_see_the_padding():
    small = torch.full((3, 50, 60), 200, dtype=torch.uint8)
    large = torch.full((3, 90, 100), 100, dtype=torch.uint8)
    boxes = torch.tensor([[0.0, 0.0, 60.0, 50.0], [0.0, 0.0, 100.0, 90.0]])  # whole images
    for size in (32, 45, 80):  # down- and upscaling: samples reach each image's last pixel
        crops = resized_crops(_canvas([small, large]), boxes, size)
        assert torch.allclose(crops[0], torch.tensor(200.0)), crops[0].min()
        assert torch.allclose(crops[1], torch.tensor(100.0)), crops[1].min()


def test_device_decoding_of_mixed_sizes_sees_each_image_s_own_edges(tmp_path):
    """A batch of different sizes is cut from one padded canvas: no crop may see the padding."""
    sizes = [(80, 72), (120, 96), (100, 140)]
    folder = tmp_path / "mixed"
    for i, size in enumerate(sizes):
        write_image_folder(folder, [f"c{i}"], {"train": 2, "val": 2}, size, seed=i)
    for (a, _), (b, _) in _both_paths(folder, "val"):
        diff = (_pixels(a) - _pixels(b)).abs()
        assert diff.mean() < 2.5 and diff.amax(dim=(1, 2, 3)).max() < 40, diff.mean()


def test_device_decoding_with_loader_workers_covers_the_epoch(image_folder):
    dm = make(image_folder, batch_size=5, num_workers=2, decode_on_device=True)
    dm.setup("fit")
    seen = [batch[1] for batch in batches(dm, "val", 10, training=False)]
    assert sorted(torch.cat(seen).tolist()) == [0] * 4 + [1] * 4 + [2] * 4


def test_device_decoding_skips_or_names_broken_files(image_folder, caplog):
    bad = image_folder / "val" / "bee" / "bee_001.jpg"
    truncate(bad)
    dm = make(image_folder, batch_size=64, decode_on_device=True)
    dm.setup("fit")
    with caplog.at_level(logging.WARNING):
        (images, targets), *_ = batches(dm, "val", 1, training=False)
    assert images.shape[0] == targets.shape[0] == 3 * 4 - 1 and str(bad) in caplog.text

    dm = make(image_folder, batch_size=64, decode_on_device=True, on_bad_image="raise")
    dm.setup("fit")
    with pytest.raises(DataError, match=str(bad)):
        batches(dm, "val", 1, training=False)


def test_on_device_augmentation_equals_per_image_cpu_transforms():
    """BatchAugment (uint8 batch in, flip + PCA lighting + normalise on the device) against
    torchvision's per-image transforms fed the same random draws."""
    images = torch.randint(0, 256, (6, 3, 20, 24), dtype=torch.uint8)
    augment = BatchAugment(lighting_std=0.1)
    out = augment(images, train=True, generator=torch.Generator().manual_seed(7))

    draws = torch.Generator().manual_seed(7)
    flips = torch.rand(6, generator=draws) < 0.5
    alphas = torch.randn(6, 3, generator=draws) * 0.1
    lighting = PCALighting(0.1)
    normalise = v2.Normalize(augment.mean.flatten().tolist(), augment.std.flatten().tolist())
    for i in range(6):
        x = v2.functional.to_dtype(images[i], torch.float32, scale=True)
        if flips[i]:
            x = v2.functional.horizontal_flip(x)
        x = x + ((alphas[i] * lighting.eigval) @ lighting.eigvec.T)[:, None, None]
        torch.testing.assert_close(out[i], normalise(x), atol=1e-6, rtol=1e-5)
    assert flips.any() and not flips.all()  # both branches were checked


def test_cached_decoding_gives_the_same_batches_every_epoch(image_folder):
    results = {}
    for cached in (False, True):
        dm = make(image_folder, batch_size=6, decoder="torchvision", cache_decoded=cached)
        dm.setup("fit")
        torch.manual_seed(5)
        results[cached] = [batches(dm, "train", 3, training=True) for _epoch in range(2)]
    for epoch_plain, epoch_cached in zip(results[False], results[True], strict=True):
        for (a, ya), (b, yb) in zip(epoch_plain, epoch_cached, strict=True):
            assert torch.equal(ya, yb) and torch.equal(a, b)


def test_loader_workers_fill_one_shared_cache(image_folder):
    dm = make(image_folder, batch_size=6, num_workers=2, cache_decoded=True)
    dm.setup("fit")
    cache = dm.datasets["train"].cache
    assert cache.nbytes == 18 * 72 * 80 * 3 and not cache._filled.any()
    assert sum(len(y) for _, y in dm.train_dataloader()) == 18
    assert cache._filled.all()  # written by the worker processes, seen by the parent
    image = torch.from_numpy(cache._pixels[: 72 * 80 * 3]).view(3, 72, 80)
    assert torch.equal(
        image, v2.functional.pil_to_tensor(load_rgb(dm.datasets["train"].file_path(0)))
    )


def test_cached_decoding_still_skips_broken_files(image_folder, caplog):
    bad = image_folder / "train" / "ant" / "ant_002.jpg"
    truncate(bad)
    dm = make(image_folder, batch_size=64, cache_decoded=True)
    dm.setup("fit")
    with caplog.at_level(logging.WARNING):
        for _epoch in range(2):
            images, _ = next(iter(dm._loader("train", shuffle=False)))
            assert images.shape[0] == 17
    assert str(bad) in caplog.text
