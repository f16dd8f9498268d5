"""Decode each image once: a split's decoded pixels in one shared buffer, cropped on every read.

For datasets that fit in memory (the built-in shapes set, Imagenette at 160 px) the JPEG decode
is most of the loader's work, and it is the same work every epoch. The buffer is an anonymous
shared mapping made before the loader forks its workers, so every worker fills and reads the
same pages: no copy per worker and no /dev/shm file (small in many containers). Loader workers
started with "spawn" would not share it; Linux forks by default.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from alexnet_lightning.data.decode import as_uint8_tensor, decode_rgb


class DecodedImageCache:
    """The decoded RGB pixels of ``paths`` (filled on first read), each read cropped by ``crop``.

    ``crop`` gets a uint8 (3, H, W) tensor, e.g. ``train_crop`` for training: its random draws
    are the same as when the crop follows decoding from the file.
    """

    def __init__(self, paths: list[str], crop: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.crop = crop
        sizes = np.zeros((len(paths), 2), dtype=np.int64)  # (h, w) from the headers alone
        for i, path in enumerate(paths):
            try:
                with Image.open(path) as image:
                    sizes[i] = image.size[1], image.size[0]
            except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
                pass  # no room kept: every read decodes it, and fails as it would uncached
        self.shapes = sizes
        self.offsets = np.zeros(len(paths) + 1, dtype=np.int64)
        np.cumsum(sizes[:, 0] * sizes[:, 1] * 3, out=self.offsets[1:])
        self.nbytes = int(self.offsets[-1])
        self._memory = mmap.mmap(-1, max(self.nbytes + len(paths), 1))  # pixels, then flags
        everything = np.frombuffer(self._memory, dtype=np.uint8)
        self._pixels = everything[: self.nbytes]
        self._filled = everything[self.nbytes : self.nbytes + len(paths)]

    def __call__(self, index: int, path: str) -> torch.Tensor:
        h, w = self.shapes[index]
        start, end = self.offsets[index], self.offsets[index + 1]
        stored = torch.from_numpy(self._pixels[start:end]).view(3, h, w)
        if not self._filled[index]:
            with Image.open(path) as image:
                pixels, _ = decode_rgb(image, None, "torchvision")
            pixels = as_uint8_tensor(pixels)
            if pixels.shape != (3, h, w):  # no room kept, or a header that lied
                return self.crop(pixels)
            stored.copy_(pixels)
            self._filled[index] = 1  # after the copy: a reader never sees half an image
        return self.crop(stored)

    def __getstate__(self) -> dict:
        raise TypeError(
            "the decoded-image cache is shared by forking; loader workers started with "
            "'spawn' cannot use it: set data.cache_decoded=false"
        )
