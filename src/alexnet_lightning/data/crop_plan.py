"""The crops of every data path, planned in one place: which crop each split gets, and each
training sample's crop drawn from its seed.

Training crops: ``random_resized`` (torchvision's RandomResizedCrop box on the whole image),
``paper`` (the shorter side resized to ``side``, the central ``side`` square, a random
``image_size`` square in it) or ``none`` (the evaluation crop). Evaluation: the central
``image_size`` square of the image resized to ``side`` (``side = round(image_size *
resize_ratio)``: 256 for 224), or its ten views.

The draws are torchvision's own: ``draw`` seeds torch's generator with each sample's seed and
asks the transform for its parameters, so the per-image path (a loader worker cropping one
decoded file), the packed arrays, CIFAR-10 and the batches decoded on the device all cut the
same boxes from the same seeds; each path only differs in how it cuts them (``batch_crops``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from alexnet_lightning.data import batch_crops
from alexnet_lightning.data.transforms import eval_crop, paper_crop, ten_crop, train_crop


@dataclass(frozen=True)
class CropPlan:
    train_crop: str  # random_resized, paper or none
    image_size: int
    resize_ratio: float
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)

    @property
    def side(self) -> int:
        """The side evaluation (and the paper's crop) resizes the shorter side to."""
        return round(self.image_size * self.resize_ratio)

    def crop(self, split: str) -> str:
        """What ``split`` cuts: random_resized, paper, or center (evaluation; ten views for
        a ten-crop test are the DataModule's choice)."""
        if split == "train" and self.train_crop != "none":
            return self.train_crop
        return "center"

    def boxes(self, seeds: Sequence[int], height: int, width: int) -> torch.Tensor:
        """(N, 4) random_resized boxes x1, y1, x2, y2 on a height x width image (CPU)."""
        return batch_crops.resized_crop_boxes(seeds, height, width, self.scale, self.ratio)

    def offsets(self, seeds: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The paper crop's (top, left) in the central side x side square (CPU)."""
        return batch_crops.random_crop_offsets(seeds, self.side, self.side, self.image_size)

    def draws(self, seeds: Sequence[int], height: int, width: int) -> torch.Tensor:
        """The training crops of a batch of equal-sized images as one tensor: (N, 4) boxes
        (random_resized), (N, 2) top and left in the central square (paper), or empty (none)."""
        if self.train_crop == "random_resized":
            return self.boxes(seeds, height, width)
        if self.train_crop == "paper":
            return torch.stack(self.offsets(seeds), dim=1)
        return torch.empty(0)

    def image_transform(self, split: str, ten_views: bool = False) -> Callable:
        """The per-image path's crop of a decoded image (PIL or uint8 tensor), drawing from the
        sample's seed through torchvision (loader workers, ``SeededSamples``)."""
        crop = self.crop(split)
        if crop == "paper":
            return paper_crop(self.image_size, self.resize_ratio)
        if crop == "random_resized":
            return train_crop(self.image_size, self.scale, self.ratio)
        if split == "test" and ten_views:
            return ten_crop(self.image_size, self.resize_ratio)
        return eval_crop(self.image_size, self.resize_ratio)
