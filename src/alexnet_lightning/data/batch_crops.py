"""Crops for a whole batch of decoded images at once, on whatever device the batch lives on.

The per-image path (a loader worker, ``SeededSamples``) seeds torch's default generator with the
sample's seed and lets a torchvision transform draw the crop. Here the same draws are made on
the CPU from the same seeds (``resized_crop_boxes``, ``random_crop_offsets``), and the pixels are
cut out of the batch with one indexing op or one ``roi_align`` call on an accelerator, so the work
stays on the device and does not wait for the host; on the CPU a loop over the images is faster.
torchvision's batch functions (``v2.functional.crop``, ``resized_crop``) cut one box from every
image; what is here cuts a box per image.

Images are (N, C, H, W), uint8 or float, any memory format (a packed NHWC array permuted to
NCHW is a channels_last view and works as is).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import get_worker_info
from torchvision.ops import roi_align
from torchvision.transforms import v2

from alexnet_lightning.compat import empty_shared


def _size_proxy(height: int, width: int) -> torch.Tensor:
    """A (3, height, width) tensor that allocates nothing: torchvision's ``make_params`` only
    reads the size of its input."""
    return torch.empty(1, 1, 1, dtype=torch.uint8).expand(3, height, width)


def _seeded_draws(seeds: Sequence[int], draw) -> list:
    """``draw()`` once per seed, with torch's default generator seeded as ``SeededSamples`` does;
    the global RNG is left as it was."""
    out = []
    with torch.random.fork_rng(devices=[]):
        for seed in seeds:
            # not torch.manual_seed: it queues a CUDA seeding with a stack trace per call
            torch.default_generator.manual_seed(int(seed))
            out.append(draw())
    return out


def resized_crop_boxes(
    seeds: Sequence[int],
    height: int,
    width: int,
    scale: Sequence[float] = (0.08, 1.0),
    ratio: Sequence[float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """(N, 4) float boxes x1, y1, x2, y2 (pixels, CPU): the crops torchvision's
    ``v2.RandomResizedCrop(scale, ratio)`` draws on a ``height x width`` image under each seed."""
    crop = v2.RandomResizedCrop(1, scale=tuple(scale), ratio=tuple(ratio))
    proxy = _size_proxy(height, width)
    params = _seeded_draws(seeds, lambda: crop.make_params([proxy]))
    boxes = [[p["left"], p["top"], p["left"] + p["width"], p["top"] + p["height"]] for p in params]
    return torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)


def random_crop_offsets(
    seeds: Sequence[int], height: int, width: int, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(top, left) int64 tensors (CPU): where ``v2.RandomCrop(size)`` cuts a ``height x width``
    image under each seed (the paper's random 224 of the central 256)."""
    crop = v2.RandomCrop(size)
    proxy = _size_proxy(height, width)
    params = _seeded_draws(seeds, lambda: crop.make_params([proxy]))
    tops = [p["top"] for p in params]  # 0 where the image is no larger than the crop
    lefts = [p["left"] for p in params]
    return torch.tensor(tops, dtype=torch.int64), torch.tensor(lefts, dtype=torch.int64)


def crops_at(
    images: torch.Tensor,
    tops: torch.Tensor,
    lefts: torch.Tensor,
    size: int,
    rows: torch.Tensor | None = None,
) -> torch.Tensor:
    """(N, C, size, size) channels_last: image n cut at (tops[n], lefts[n]), exact pixels.

    With ``rows``, image n is ``images[rows[n]]``: crops straight out of a whole (mapped)
    array, without copying the batch's full images first.
    """
    # v2.functional.crop takes one (top, left) for the whole batch, not one per image
    if rows is None:
        rows = torch.arange(images.shape[0])
    if images.device.type != "cpu":
        return _gathered_crops(images, rows, tops, lefts, size)
    # On the CPU a slice copy per image moves only the crop's bytes (about 3 ms for 64 crops of
    # 224 px); the one-op gather computes an index per byte (about 60 ms).
    out = _new_batch(len(rows), images.shape[1], size, images.dtype)
    pairs = zip(rows.tolist(), tops.tolist(), lefts.tolist(), strict=True)
    for i, (row, top, left) in enumerate(pairs):
        out[i].copy_(images[row, :, top : top + size, left : left + size])
    return out


def _gathered_crops(images, rows, tops, lefts, size) -> torch.Tensor:
    """``crops_at`` as one indexing op, for accelerators (no per-image launches)."""
    device = images.device
    steps = torch.arange(size, device=device)
    ys = tops.to(device)[:, None] + steps  # (N, size)
    xs = lefts.to(device)[:, None] + steps
    # advanced indices around a slice put their dims first: (N, size, size, C)
    cut = images[rows.to(device)[:, None, None], :, ys[:, :, None], xs[:, None, :]]
    return cut.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def resized_crops(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, size, size): box n (x1, y1, x2, y2 in pixels) of image n resized to size x size.

    One ``roi_align`` call for the batch. ``aligned=True`` puts samples where bilinear
    interpolation with half-pixel centres puts them; ``sampling_ratio=0`` averages
    ceil(box side / size) bilinear samples per output pixel in each direction, a box filter over
    the footprint that antialiased resizing spreads with a triangle instead. Against
    ``v2.functional.resized_crop(..., antialias=True)`` on the same boxes the result differs by
    about one grey level on average (tests/data/test_batch_crops.py pins the tolerance).
    uint8 in, uint8 out (rounded).
    """
    # v2.functional.resized_crop takes one box for the whole batch; roi_align one per image
    n = images.shape[0]
    # built where the boxes are (the CPU in the decode path, the GPU in the packed one), then
    # moved once: torch.cat refuses to mix devices
    index = torch.arange(n, dtype=torch.float32, device=boxes.device)[:, None]
    rois = torch.cat([index, boxes.to(torch.float32).reshape(n, 4)], dim=1)
    rois = rois.to(images.device, non_blocking=True)
    x = images.float() if images.dtype != torch.float32 else images
    out = roi_align(x, rois, (size, size), spatial_scale=1.0, sampling_ratio=0, aligned=True)
    return _as_dtype(out, images.dtype)


def resized_crops_per_image(
    images: torch.Tensor, boxes: torch.Tensor, size: int, rows: torch.Tensor | None = None
) -> torch.Tensor:
    """(N, C, size, size) channels_last: ``resized_crops`` for a batch on the CPU, one image at
    a time with torchvision's ``resized_crop(..., antialias=True)``, so the pixels are exactly
    those of ``v2.RandomResizedCrop`` on the same boxes.

    On the CPU this is the fast way: torchvision's uint8 antialiased resize is vectorised for
    channels_last images (about 0.6 ms per 224 px crop on one core), while ``roi_align`` works in
    float32 and takes about 5 ms per crop. Boxes are whole pixels (torchvision draws them so).
    With ``rows``, image n is ``images[rows[n]]`` (see ``crops_at``).
    """
    if rows is None:
        rows = torch.arange(images.shape[0])
    n, channels = len(rows), images.shape[1]
    out = _new_batch(n, channels, size, images.dtype)
    pairs = zip(rows.tolist(), boxes.to(torch.int64).tolist(), strict=True)
    for i, (row, (x1, y1, x2, y2)) in enumerate(pairs):
        # the box copied out first: the vectorised kernel wants a dense channels_last image
        # (about 1.7x faster than resizing the strided view, which is copied anyway)
        box = images[row : row + 1, :, y1:y2, x1:x2].contiguous(memory_format=torch.channels_last)
        # v2.functional.resize's own call for uint8 on the CPU; its checks would add 30 % (0.154
        # against 0.118 ms per 224 px crop, one thread)
        resized = F.interpolate(
            box, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
        out[i].copy_(resized[0])
    return out


def _new_batch(n: int, channels: int, size: int, dtype: torch.dtype) -> torch.Tensor:
    """An empty (n, channels, size, size) channels_last CPU batch. In a loader worker it is
    made in shared memory, as ``default_collate`` does, so handing it to the main process
    copies nothing."""
    shape = (n, size, size, channels)
    if get_worker_info() is not None:
        out = empty_shared(shape, dtype)
    else:
        out = torch.empty(shape, dtype=dtype)
    return out.permute(0, 3, 1, 2)


def _as_dtype(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if dtype == torch.uint8:
        return x.round_().clamp_(0, 255).to(torch.uint8)
    return x.to(dtype)
