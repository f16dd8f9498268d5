"""Batched crops on the device make the per-image path's draws and (nearly) its pixels."""

import pytest
import torch
from torchvision.transforms import v2

from alexnet_lightning.data import batch_crops
from alexnet_lightning.data.batch_crops import _gathered_crops, crops_at, resized_crop_boxes
from alexnet_lightning.data.transforms import paper_crop

SEEDS = [3, 17, 2**61 + 5, 0, 99, 123456, 7, 8]


def _seeded(transform, image, seed):
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        return transform(image)


def _photo_like(n: int, side: int, seed: int = 0) -> torch.Tensor:
    """Smooth images with edges: low-resolution noise blown up, so resampling differences are
    those of real photographs rather than of white noise."""
    g = torch.Generator().manual_seed(seed)
    small = torch.randint(0, 256, (n, 3, side // 12, side // 12), generator=g, dtype=torch.uint8)
    return v2.functional.resize(small, [side, side], antialias=True)


def test_paper_crops_equal_the_per_image_path_bitwise():
    images = torch.randint(0, 256, (len(SEEDS), 3, 73, 73), dtype=torch.uint8)
    tops, lefts = batch_crops.random_crop_offsets(SEEDS, 73, 73, 64)
    batched = crops_at(images, tops, lefts, 64)
    # the per-image path's paper crop on an image already at the packed side
    per_image = torch.stack(
        [_seeded(paper_crop(64), img, s) for img, s in zip(images, SEEDS, strict=True)]
    )
    assert torch.equal(batched, per_image)
    assert len(set(tops.tolist())) > 1  # the seeds really draw different crops


def test_crops_at_works_on_a_channels_last_view_of_an_nhwc_array():
    nhwc = torch.randint(0, 256, (4, 20, 20, 3), dtype=torch.uint8)
    nchw = nhwc.permute(0, 3, 1, 2)
    tops, lefts = torch.tensor([0, 1, 2, 4]), torch.tensor([4, 3, 0, 1])
    out = crops_at(nchw, tops, lefts, 16)
    assert out.is_contiguous(memory_format=torch.channels_last)
    # the accelerators' one-op gather cuts the same pixels as the CPU's slices
    assert torch.equal(_gathered_crops(nchw, torch.arange(4), tops, lefts, 16), out)
    for i in range(4):
        t, left = int(tops[i]), int(lefts[i])
        assert torch.equal(out[i], nchw[i, :, t : t + 16, left : left + 16])


def test_resized_crop_boxes_are_torchvisions_draws():
    crop = v2.RandomResizedCrop(1, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3))
    boxes = resized_crop_boxes(SEEDS, 200, 300)
    image = torch.zeros(3, 200, 300, dtype=torch.uint8)
    for box, seed in zip(boxes.tolist(), SEEDS, strict=True):
        p = _seeded(lambda img: crop.make_params([img]), image, seed)
        assert box == [p["left"], p["top"], p["left"] + p["width"], p["top"] + p["height"]]


@pytest.mark.parametrize("size", [64, 224])
def test_resized_crops_match_torchvision_within_interpolation_tolerance(size):
    images = _photo_like(len(SEEDS), 256)
    boxes = resized_crop_boxes(SEEDS, 256, 256)
    batched = batch_crops.resized_crops(images, boxes, size)
    assert batched.dtype == torch.uint8 and batched.shape == (len(SEEDS), 3, size, size)
    reference = torch.stack(
        [
            _seeded(v2.RandomResizedCrop(size, antialias=True), img, s)
            for img, s in zip(images, SEEDS, strict=True)
        ]
    )
    diff = (batched.float() - reference.float()).abs()
    # box filter (roi_align) vs triangle filter (antialiased bilinear): measured mean 0.2-0.6,
    # max 5-7 grey levels on these images
    assert diff.mean() < 1.0
    assert diff.max() <= 12
    # float in, float out, same numbers before rounding
    as_float = batch_crops.resized_crops(images.float(), boxes, size)
    assert as_float.dtype == torch.float32
    assert (as_float.round() - batched.float()).abs().max() <= 1


def test_resized_crops_per_image_are_torchvisions_pixels():
    images = _photo_like(len(SEEDS), 96).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    boxes = resized_crop_boxes(SEEDS, 96, 96, scale=(0.2, 1.0))
    out = batch_crops.resized_crops_per_image(images, boxes, 40)
    assert out.shape == (len(SEEDS), 3, 40, 40)
    crop = v2.RandomResizedCrop(40, scale=(0.2, 1.0), antialias=True)
    for got, img, seed in zip(out, images, SEEDS, strict=True):
        assert torch.equal(got, _seeded(crop, img, seed))


def test_crops_with_rows_cut_straight_out_of_the_whole_array():
    whole = _photo_like(6, 48).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    rows = torch.tensor([4, 0, 4, 2])
    tops, lefts = torch.tensor([0, 5, 9, 16]), torch.tensor([16, 2, 0, 7])
    gathered = whole[rows]
    assert torch.equal(crops_at(whole, tops, lefts, 32, rows), crops_at(gathered, tops, lefts, 32))
    assert torch.equal(
        _gathered_crops(whole, rows, tops, lefts, 32), crops_at(gathered, tops, lefts, 32)
    )
    boxes = resized_crop_boxes([1, 2, 3, 4], 48, 48)
    direct = batch_crops.resized_crops_per_image(whole, boxes, 24, rows)
    assert torch.equal(direct, batch_crops.resized_crops_per_image(gathered, boxes, 24))
