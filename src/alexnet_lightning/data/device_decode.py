"""Decoding whole batches of files on the training device (nvJPEG on CUDA).

When the CPU cannot decode JPEGs as fast as the GPU trains, the loader workers only read file
bytes and the main process decodes the batch with ``torchvision.io.decode_jpeg(device=...)``,
then crops each image on the device. CUDA cannot run inside loader workers, hence the main
process. On the CPU the same code runs with ``device="cpu"``, which is how it is tested.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data._utils.collate import default_collate

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
    """A ``collate_encoded`` batch -> (uint8 batch on ``device``, targets).

    ``crop`` is the split's image transform (e.g. ``train_crop``), applied per image on the
    device, where torchvision's v2 transforms run on tensors as they do on the CPU.
    """

    def __init__(self, crop: Callable[[torch.Tensor], torch.Tensor], on_bad_image: str) -> None:
        self.crop, self.on_bad_image = crop, on_bad_image
        self.skipped = 0

    def __call__(self, batch: tuple, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        flat, lengths, paths, seeds, targets = batch
        data = list(torch.split(flat, lengths))
        images = self._decode(data, paths, device)
        keep = [i for i, image in enumerate(images) if image is not None]
        if not keep:
            return torch.empty(0, dtype=torch.uint8, device=device), targets[:0]
        crops = torch.stack([self._crop(images[i], seeds[i]) for i in keep])
        return crops, targets[keep]

    def _crop(self, image: torch.Tensor, seed: int | None) -> torch.Tensor:
        if seed is None:  # no per-sample seed: the global RNG, as in a loader worker
            return self.crop(image)
        with torch.random.fork_rng(devices=[]):  # the draws the worker path makes
            # torch.manual_seed would format a stack trace per call (see samplers)
            torch.default_generator.manual_seed(seed)
            return self.crop(image)

    def _decode(
        self, data: list[torch.Tensor], paths: list[str], device: torch.device
    ) -> list[torch.Tensor | None]:
        images: list[torch.Tensor | None] = [None] * len(data)
        jpegs = [i for i, d in enumerate(data) if bytes(d[:2].tolist()) == JPEG_MAGIC]
        try:  # one call for all JPEGs: nvJPEG decodes them as a batch
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
