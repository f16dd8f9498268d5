"""The paper's Figure 3: the first conv layer's kernels as pictures, and how colourful each
tower's kernels are (Section 6.1: GPU 1's kernels came out largely colour-agnostic, GPU 2's
colour-specific)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn
from torchvision.utils import make_grid

# Tiles about this many pixels wide: an 11 x 11 kernel is drawn 4x, a 5 x 5 one 8x.
TILE_PX = 40
COLUMNS = 16
LABEL_PX = 18


def first_conv(net: nn.Module) -> nn.Conv2d:
    """The network's first convolution: the layer whose kernels look at the pixels."""
    conv = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None or conv.in_channels != 3:
        raise ValueError(f"{type(net).__name__} has no first conv layer on RGB input")
    return conv


def tower_count(net: nn.Module) -> int:
    """How many towers the first layer's kernels feed: the groups of the second conv, the
    first layer where the paper's two GPUs see only their own maps (1 when there is none)."""
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    return convs[1].groups if len(convs) > 1 else 1


def scale_per_kernel(weight: torch.Tensor) -> torch.Tensor:
    """(N, 3, k, k) weights -> the same in [0, 1], each kernel stretched over its own min..max
    as the paper's figure shows them (a constant kernel is mid-grey)."""
    flat = weight.detach().float().flatten(1)
    low, high = flat.min(dim=1).values, flat.max(dim=1).values
    span = (high - low).clamp_min(1e-12)
    scaled = (flat - low[:, None]) / span[:, None]
    scaled = torch.where((high > low)[:, None], scaled, torch.full_like(scaled, 0.5))
    return scaled.view_as(weight)


def srgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] (channels on dim -3) -> CIE Lab (D65). Written out because neither
    scikit-image nor kornia is a dependency, and these dozen lines are the whole formula."""
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    to_xyz = torch.tensor(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ],
        dtype=rgb.dtype,
        device=rgb.device,
    )
    white = torch.tensor([0.95047, 1.0, 1.08883], dtype=rgb.dtype, device=rgb.device)
    xyz = torch.einsum("ij,...jhw->...ihw", to_xyz, linear) / white[:, None, None]
    delta = 6 / 29
    f = torch.where(xyz > delta**3, xyz.clamp_min(1e-12) ** (1 / 3), xyz / (3 * delta**2) + 4 / 29)
    fx, fy, fz = f.unbind(dim=-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def colourfulness(tiles: torch.Tensor) -> torch.Tensor:
    """Per kernel (N, 3, k, k in [0, 1]) its mean chroma sqrt(a² + b²) in CIE Lab: 0 for a
    grey kernel, about 100 for saturated red."""
    lab = srgb_to_lab(tiles.float())
    return lab[:, 1:].pow(2).sum(dim=1).sqrt().flatten(1).mean(dim=1)


def tower_slices(count: int, towers: int) -> list[slice]:
    """Which of ``count`` kernels each tower holds: grouped convs split channels in order."""
    per = count // towers
    return [slice(t * per, (t + 1) * per) for t in range(towers)]


def tower_blocks(tiles: torch.Tensor, towers: int, columns: int = COLUMNS) -> list[torch.Tensor]:
    """One (3, H, W) grid per tower of the per-kernel-scaled ``tiles``, upsampled (nearest)
    to about TILE_PX pixels per kernel, in rows of ``columns``."""
    factor = max(1, round(TILE_PX / tiles.shape[-1]))
    big = tiles.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)
    blocks = []
    for part in tower_slices(len(tiles), towers):
        kernels = big[part]
        blocks.append(make_grid(kernels, nrow=min(columns, len(kernels)), padding=2, pad_value=1))
    return blocks


@dataclass
class KernelFigure:
    image: np.ndarray  # (H, W, 3) uint8, each tower's block under its label
    colourfulness: list[float]  # mean Lab chroma of each tower's kernels


def kernel_figure(net: nn.Module, title: str = "") -> KernelFigure:
    """The first conv layer's kernels of ``net``, one labelled block per tower."""
    weight = first_conv(net).weight.detach().cpu()  # the one host copy per figure
    towers = tower_count(net)
    tiles = scale_per_kernel(weight)
    per_kernel = colourfulness(tiles)
    scores = [float(per_kernel[part].mean()) for part in tower_slices(len(tiles), towers)]
    blocks = tower_blocks(tiles, towers)
    width = max(b.shape[-1] for b in blocks)
    height = sum(b.shape[-2] + LABEL_PX for b in blocks) + (LABEL_PX if title else 0)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    y = 0
    if title:
        draw.text((4, y + 3), title, fill="black")
        y += LABEL_PX
    per = len(tiles) // towers
    for index, (block, score) in enumerate(zip(blocks, scores, strict=True)):
        name = f"tower {index + 1} (GPU {index + 1})" if towers > 1 else "one tower"
        label = f"{name}: kernels {index * per}-{(index + 1) * per - 1}, Lab chroma {score:.1f}"
        draw.text((4, y + 3), label, fill="black")
        y += LABEL_PX
        pixels = (block.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        canvas.paste(Image.fromarray(pixels), (0, y))
        y += block.shape[-2]
    return KernelFigure(np.asarray(canvas), scores)
