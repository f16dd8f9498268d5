"""AlexNet's augmentation, split where it is cheapest to run.

The loader workers only decode and crop, handing uint8 tensors to the main process; flips,
the paper's PCA lighting noise and normalisation run on the whole batch on the training device
(`BatchAugment`), where they cost almost nothing next to the network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn
from torchvision.transforms import v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Principal components of ImageNet's RGB pixel values (the figures used by fb.resnet.torch and
# most AlexNet reproductions): eigenvalues, and eigenvectors as columns.
IMAGENET_PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_PCA_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)
# The paper trains on 224 crops of images resized to 256: evaluation resizes by the same ratio.
EVAL_RESIZE_RATIO = 256 / 224


def train_crop(
    image_size: int,
    scale: Sequence[float] = (0.08, 1.0),
    ratio: Sequence[float] = (3 / 4, 4 / 3),
) -> v2.Compose:
    """PIL image -> random resized crop as a uint8 CHW tensor (flip happens on the device)."""
    return v2.Compose(
        [
            v2.RandomResizedCrop(
                image_size, scale=tuple(scale), ratio=tuple(ratio), antialias=True
            ),
            v2.PILToTensor(),
        ]
    )


def paper_crop(image_size: int, resize_ratio: float = EVAL_RESIZE_RATIO) -> v2.Compose:
    """The paper's training crop: shorter side to 256, central 256 x 256, random 224 x 224 in it
    (sizes scale with image_size)."""
    side = round(image_size * resize_ratio)
    return v2.Compose(
        [
            v2.Resize(side, antialias=True),
            v2.CenterCrop(side),
            v2.RandomCrop(image_size),
            v2.PILToTensor(),
        ]
    )


def eval_crop(image_size: int, resize_ratio: float = EVAL_RESIZE_RATIO) -> v2.Compose:
    """PIL image -> shorter side resized to image_size * 256/224, centre crop, uint8 tensor."""
    return v2.Compose(
        [
            v2.Resize(round(image_size * resize_ratio), antialias=True),
            v2.CenterCrop(image_size),
            v2.PILToTensor(),
        ]
    )


def ten_crop(image_size: int, resize_ratio: float = EVAL_RESIZE_RATIO) -> Callable:
    """The paper's ten-crop test (section 4.1) for one image: resize, then the four corners and
    the centre, and the same of the mirror image, as a uint8 (10, C, H, W) tensor in
    ``v2.TenCrop``'s order. A DataModule with ``test_views=ten_crop`` batches these as
    (batch, 10, C, H, W); AlexNetClassifier.test_step averages the views' softmax."""
    side = round(image_size * resize_ratio)
    # PILToTensor leaves tensors (files decoded by torchvision) as they are
    views = v2.Compose([v2.Resize(side, antialias=True), v2.TenCrop(image_size), v2.PILToTensor()])
    # A partial of a module-level function, so loader workers can pickle it.
    return partial(_stacked, views)


def _stacked(views: v2.Compose, image: object) -> torch.Tensor:
    return torch.stack(views(image))


class PCALighting(nn.Module):
    """The paper's colour augmentation (section 4.1): add multiples of the principal components
    of the RGB pixel values, with magnitudes eigenvalue * N(0, std) drawn once per image.

    torchvision has no such transform. Works on float images in [0, 1], (C,H,W) or (B,C,H,W);
    std=0 turns it off.
    """

    def __init__(
        self,
        std: float = 0.1,
        eigval: Sequence[float] = IMAGENET_PCA_EIGVAL,
        eigvec: Sequence[Sequence[float]] = IMAGENET_PCA_EIGVEC,
    ) -> None:
        super().__init__()
        if std < 0:
            raise ValueError(f"PCA lighting std must be >= 0, got {std}")
        self.std = std
        self.register_buffer("eigval", torch.tensor(eigval), persistent=False)
        self.register_buffer("eigvec", torch.tensor(eigvec), persistent=False)

    def forward(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if self.std == 0:
            return images
        batched = images.dim() == 4
        x = images if batched else images.unsqueeze(0)
        alpha = torch.randn(
            x.shape[0], 3, generator=generator, device=x.device, dtype=self.eigval.dtype
        )
        alpha = alpha * self.std
        rgb = (alpha * self.eigval) @ self.eigvec.T  # (B, 3): one colour shift per image
        out = x + rgb.to(x.dtype)[:, :, None, None]
        return out if batched else out.squeeze(0)


class BatchAugment(nn.Module):
    """uint8 batch on the device -> float batch the network eats.

    Training adds a random horizontal flip per image (``flip``), PCA lighting and the
    ``extra`` augmentations (``data.batch_augment``, in their order); both modes
    scale to [0, 1] and normalise with the dataset's mean and std. ``normalize=False`` feeds
    what the paper fed (Section 2): the raw 0-255 RGB values with the mean subtracted, not
    divided by a std (the paper subtracts the mean image; here the per-channel ``mean``).
    """

    def __init__(
        self,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        lighting_std: float = 0.1,
        flip: bool = True,
        normalize: bool = True,
        extra: Sequence[Callable[[torch.Tensor], torch.Tensor]] = (),
    ) -> None:
        super().__init__()
        self.flip = flip
        self.normalize = normalize
        # data.batch_augment: (B, 3, H, W) float [0, 1] -> the same, after flip and lighting
        self.extra = list(extra)
        self.lighting = PCALighting(lighting_std)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(
        self, images: torch.Tensor, train: bool, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        mean, std = self.mean.to(images.device), self.std.to(images.device)
        if train and images.dim() != 4:
            raise ValueError("multi-view batches (ten-crop) are for evaluation only")
        x = images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
        if train:
            if self.flip:
                # v2.RandomHorizontalFlip flips a whole batch or none of it: one draw per image
                flip = torch.rand(x.shape[0], generator=generator, device=x.device) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            self.lighting.to(x.device)
            x = self.lighting(x, generator=generator)
            for augment in self.extra:
                x = augment.to(x.device)(x) if isinstance(augment, nn.Module) else augment(x)
        # broadcast over any leading dims: a ten-crop batch (batch, views, C, H, W) as well
        return (x - mean) / std if self.normalize else (x - mean) * 255.0

    def denormalize(self, images: torch.Tensor) -> torch.Tensor:
        """Network input batch -> [0, 1] images, for looking at them."""
        mean, std = self.mean.to(images.device), self.std.to(images.device)
        scale = std if self.normalize else 1 / 255.0
        return (images * scale + mean).clamp_(0, 1)
