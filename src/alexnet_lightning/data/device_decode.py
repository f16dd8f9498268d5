"""Decoding whole batches of files on the training device (nvJPEG on CUDA).

When the CPU cannot decode JPEGs as fast as the GPU trains, the loader workers only read file
bytes and the main process decodes the batch with one ``torchvision.io.decode_jpeg(device=...)``
call, then crops the whole batch with one roi_align on the device. CUDA cannot run inside
loader workers, hence the main process. On the CPU the same code runs with ``device="cpu"``,
which is how it is tested.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import default_collate

from alexnet_lightning.data.batch_crops import resized_crops
from alexnet_lightning.data.crop_plan import CropPlan
from alexnet_lightning.data.decode import as_uint8_tensor
from alexnet_lightning.data.folder import load_rgb, report_bad_image
from alexnet_lightning.data.samplers import current_sample_seed

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # see data.decode
    from torchvision.io import ImageReadMode, decode_image, decode_jpeg, read_file


JPEG_MAGIC = b"\xff\xd8"


def read_bytes(path: str) -> tuple[torch.Tensor, str, int | None]:
    """The loader workers' whole job in this mode: the file as a 1-D uint8 tensor, its path
    (for error messages) and the sample's crop seed (see ``samplers.SeededSamples``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # see data.decode
        return read_file(path), path, current_sample_seed.get()


def collate_encoded(batch: list) -> tuple[torch.Tensor, list[int], list[str], list, torch.Tensor]:
    """Files differ in length: they travel as one flat uint8 tensor plus their lengths.

    One tensor per batch, not one per file: a loader worker hands each tensor's storage over
    as a file descriptor, and hundreds per batch exhaust them ("Bad file descriptor").
    """
    if not batch:
        return torch.empty(0, dtype=torch.uint8), [], [], [], torch.empty(0, dtype=torch.int64)
    files, targets = zip(*batch, strict=True)
    data, paths, seeds = zip(*files, strict=True)
    lengths = [len(d) for d in data]
    return torch.cat(data), lengths, list(paths), list(seeds), default_collate(list(targets))


def is_encoded_batch(batch: Any) -> bool:
    """Whether a batch came from ``collate_encoded`` (files still to decode)."""
    return len(batch) == 5 and isinstance(batch[1], list)


class BatchDecoder:
    """A ``collate_encoded`` batch -> (uint8 batch of crops on ``device``, targets).

    All JPEGs of the batch are decoded by ONE ``decode_jpeg`` call (on CUDA: batched nvJPEG).
    The crops are ONE ``roi_align`` over the batch (``batch_crops.resized_crops``), with one box
    per image: the box the split's per-image transform would cut, drawn from the sample's seed
    exactly as torchvision draws it (``batch_crops``), and mapped back onto the decoded image.

    The split's crop is the plan's (data/crop_plan.py): ``random_resized``, ``paper`` or
    ``center``. Against the loader workers' path (resize with
    antialiasing, then cut) the pixels differ only where a resize happens, by interpolation:
    roi_align averages bilinear samples over each output pixel's footprint. Crops that need no
    resize are exact.
    """

    def __init__(self, plan: CropPlan, split: str, on_bad_image: str) -> None:
        self.plan, self.crop, self.on_bad_image = plan, plan.crop(split), on_bad_image
        self.size, self.side = plan.image_size, plan.side
        self.skipped = 0

    def __call__(self, batch: tuple, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        flat, lengths, paths, seeds, targets = batch
        data = list(torch.split(flat, lengths))
        images = self._decode(data, paths, device)
        keep = [i for i, image in enumerate(images) if image is not None]
        if not keep:
            return torch.empty(0, dtype=torch.uint8, device=device), targets[:0]
        kept = [images[i] for i in keep]
        sizes = [tuple(image.shape[-2:]) for image in kept]  # host metadata: no sync
        boxes = self.boxes(sizes, [seeds[i] for i in keep])
        crops = resized_crops(_canvas(kept), boxes, self.size)
        return crops.round_().clamp_(0, 255).to(torch.uint8), targets[keep]

    def boxes(self, sizes: list[tuple[int, int]], seeds: list[int | None]) -> torch.Tensor:
        """(N, 4) boxes x1, y1, x2, y2 on the decoded images (CPU, drawn on the host)."""
        seeds = [_global_seed() if s is None else int(s) for s in seeds]
        if self.crop == "random_resized":
            boxes = torch.empty(len(sizes), 4)
            by_size: dict[tuple[int, int], list[int]] = {}
            for i, size in enumerate(sizes):
                by_size.setdefault(size, []).append(i)
            for (height, width), index in by_size.items():  # one draw call per image size
                boxes[index] = self.plan.boxes([seeds[i] for i in index], height, width)
            return boxes
        # paper / center: v2.Resize(side) then cuts, mapped back to the decoded image
        if self.crop == "paper":
            tops, lefts = self.plan.offsets(seeds)
        out = []
        for i, (height, width) in enumerate(sizes):
            new_h, new_w = _resized_size(height, width, self.side)
            top, left = _center(new_h, self.size), _center(new_w, self.size)
            if self.crop == "paper":
                top = _center(new_h, self.side) + int(tops[i])
                left = _center(new_w, self.side) + int(lefts[i])
            sy, sx = height / new_h, width / new_w
            out.append([left * sx, top * sy, (left + self.size) * sx, (top + self.size) * sy])
        return torch.tensor(out, dtype=torch.float32)

    def _decode(
        self, data: list[torch.Tensor], paths: list[str], device: torch.device
    ) -> list[torch.Tensor | None]:
        images: list[torch.Tensor | None] = [None] * len(data)
        jpegs = [i for i, d in enumerate(data) if bytes(d[:2].tolist()) == JPEG_MAGIC]
        try:  # one call for all JPEGs: nvJPEG decodes them as a batch (it refuses none)
            if not jpegs:
                raise RuntimeError("no JPEG in the batch")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                decoded = decode_jpeg(
                    [data[i] for i in jpegs], mode=ImageReadMode.RGB, device=device
                )
            for i, image in zip(jpegs, decoded, strict=True):
                images[i] = image
        except RuntimeError:
            pass  # one bad file fails the whole call: the rest go one by one below
        for i, image in enumerate(images):
            if image is None:
                images[i] = self._decode_one(data[i], paths[i], device)
        return images

    def _decode_one(
        self, data: torch.Tensor, path: str, device: torch.device
    ) -> torch.Tensor | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return decode_image(data, mode=ImageReadMode.RGB).to(device)
        except RuntimeError as err:
            try:  # PIL reads formats libjpeg/libpng do not
                return as_uint8_tensor(load_rgb(path)).to(device)
            except (OSError, ValueError, SyntaxError):
                pass
            self.skipped += 1
            report_bad_image(path, err, self.on_bad_image, f"{self.skipped} by this decoder")
            return None


def _canvas(images: list[torch.Tensor]) -> torch.Tensor:
    """The decoded images as one float (N, 3, H, W) batch for roi_align.

    Images of one size are stacked. Otherwise each is copied into a canvas of the largest size
    (one copy kernel per image, queued without waiting; nvJPEG hands back separate tensors), with
    its last row and column repeated once beyond it: roi_align clamps samples to the canvas's
    edge, and a sample up to half a pixel past an image's edge must see that edge, not padding.
    """
    if len({tuple(image.shape) for image in images}) == 1:
        return torch.stack(images).float()
    height = max(image.shape[-2] for image in images) + 1
    width = max(image.shape[-1] for image in images) + 1
    canvas = images[0].new_zeros((len(images), 3, height, width), dtype=torch.float32)
    for i, image in enumerate(images):
        h, w = image.shape[-2:]
        canvas[i, :, : h + 1, : w + 1] = F.pad(image[None].float(), (0, 1, 0, 1), "replicate")[0]
    return canvas


# torchvision computes the next two only in private helpers (_compute_resized_output_size,
# _center_crop_compute_crop_anchor in transforms.v2.functional._geometry)
def _resized_size(height: int, width: int, side: int) -> tuple[int, int]:
    """The size v2.Resize(side) gives a height x width image (shorter side to ``side``)."""
    if height <= width:
        return side, int(side * width / height)
    return int(side * height / width), side


def _center(length: int, size: int) -> int:
    """v2.CenterCrop's offset."""
    return int(round((length - size) / 2.0))


def _global_seed() -> int:
    """A seed from the global RNG, for a sample without its own (as a loader worker would use)."""
    return int(torch.randint(0, 2**62, ()).item())
