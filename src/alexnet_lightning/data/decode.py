"""Image files to RGB pixels, at the smallest size the crop that follows allows.

Two decoders, chosen per image by ``decoder``:
- ``torchvision``: ``torchvision.io.decode_image`` (libjpeg-turbo, libpng) into a uint8 tensor;
  the crop and resize then run on that tensor. Measured 1.3-1.9x faster than PIL on this
  project's CPU for JPEGs from 80 to 1600 px.
- ``pil``: PIL, which can decode a JPEG at 1/2, 1/4 or 1/8 of its size straight from the DCT
  coefficients (``Image.draft``): far less work when the crop will be much smaller than the file.
``auto`` (the default) uses PIL's reduced decoding when it saves a factor of 2 or more, and
torchvision otherwise. A file torchvision cannot read goes to PIL, which reads more formats and
names the damage when a file is broken.

The crop geometry is drawn on the file's full size before decoding, with the same random draws
torchvision's transforms make, so reduced decoding leaves the augmentation's statistics as they
were; it only changes how the pixels are resampled.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import torch
from PIL import Image
from torchvision.transforms import v2

from alexnet_lightning.config_checks import check_value

with warnings.catch_warnings():
    # torchvision 0.29 marks its image codecs deprecated in favour of TorchCodec, which needs a
    # newer torch than this project's floor; the codecs still ship and work.
    warnings.simplefilter("ignore", DeprecationWarning)
    from torchvision.io import ImageReadMode, decode_image, read_file

Pixels = Image.Image | torch.Tensor


def draft_factor(size: tuple[int, int], needed: tuple[int, int]) -> int:
    """The largest JPEG DCT scaling (1, 2, 4 or 8) that keeps ``size`` (w, h) at least
    ``needed`` (w, h) in both directions; PIL's ``draft`` picks the same one."""
    limit = min(size[0] // max(needed[0], 1), size[1] // max(needed[1], 1))
    return next(f for f in (8, 4, 2, 1) if f <= max(limit, 1))


def read_torchvision(path: str) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return decode_image(read_file(path), mode=ImageReadMode.RGB)


def decode_rgb(
    image: Image.Image, needed: tuple[int, int] | None, decoder: str = "auto"
) -> tuple[Pixels, tuple[float, float]]:
    """Decode an opened (header-only) PIL image as RGB, no smaller than ``needed`` (w, h).

    Returns the pixels and how many source pixels each decoded pixel spans in x and y (1.0 when
    decoded at full size).
    """
    width, height = image.size
    factor = 1
    if needed is not None and image.format == "JPEG" and decoder != "torchvision":
        factor = draft_factor(image.size, needed)
    if factor > 1:
        image.draft("RGB", (math.ceil(width / factor), math.ceil(height / factor)))
        image.load()
        return image.convert("RGB"), (width / image.size[0], height / image.size[1])
    if decoder != "pil":
        try:
            return read_torchvision(image.filename), (1.0, 1.0)
        except RuntimeError:
            pass  # a format or damage libjpeg/libpng refuse: PIL reads it or says what is wrong
    image.load()  # forces the decode, so a truncated file fails here with PIL's message
    return image.convert("RGB"), (1.0, 1.0)


def as_uint8_tensor(pixels: Pixels) -> torch.Tensor:
    return v2.functional.pil_to_tensor(pixels) if isinstance(pixels, Image.Image) else pixels


class DecodeRandomResizedCrop:
    """path -> uint8 (3, size, size): torchvision's RandomResizedCrop, decoding only as many
    pixels as the drawn crop needs."""

    def __init__(
        self,
        size: int,
        scale: Sequence[float] = (0.08, 1.0),
        ratio: Sequence[float] = (3 / 4, 4 / 3),
        decoder: str = "auto",
        reduced_decode: bool = True,
    ) -> None:
        self.size = size
        self.crop = v2.RandomResizedCrop(size, scale=tuple(scale), ratio=tuple(ratio))
        self.decoder = check_value("data.decoder", decoder)
        self.reduced_decode = reduced_decode

    def __call__(self, path: str) -> torch.Tensor:
        with Image.open(path) as image:
            box = self.crop.make_params([image])  # reads the size from the header only
            width, height = image.size
            needed = (
                math.ceil(width * self.size / box["width"]),
                math.ceil(height * self.size / box["height"]),
            )
            pixels, (sx, sy) = decode_rgb(
                image, needed if self.reduced_decode else None, self.decoder
            )
        if (sx, sy) == (1.0, 1.0):
            return as_uint8_tensor(self.crop.transform(pixels, box))
        # PIL's resize takes a fractional box, so the crop lands where it would at full size.
        left, top = box["left"] / sx, box["top"] / sy
        region = (left, top, left + box["width"] / sx, top + box["height"] / sy)
        resized = pixels.resize((self.size, self.size), Image.Resampling.BILINEAR, box=region)
        return as_uint8_tensor(resized)


class DecodeShorterSide:
    """path -> ``then(pixels)``, decoding no more than a shorter side of ``min_side`` needs
    (evaluation's resize to 256 before the 224 crop, the paper's crop, ten-crop)."""

    def __init__(
        self,
        min_side: int,
        then: Callable[[Pixels], torch.Tensor],
        decoder: str = "auto",
        reduced_decode: bool = True,
    ) -> None:
        self.min_side, self.then = min_side, then
        self.decoder = check_value("data.decoder", decoder)
        self.reduced_decode = reduced_decode

    def __call__(self, path: str) -> torch.Tensor:
        with Image.open(path) as image:
            width, height = image.size
            ratio = self.min_side / min(width, height)
            needed = (math.ceil(width * ratio), math.ceil(height * ratio))
            pixels, _ = decode_rgb(image, needed if self.reduced_decode else None, self.decoder)
        return self.then(pixels)
