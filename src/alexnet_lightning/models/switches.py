"""The layers the paper's ideas switch between, shared by every layout in models/alexnet.py."""

from __future__ import annotations

from torch import nn

# Section 3.4: pooling windows of 3 with stride 2 overlap; the usual 2 x 2 windows do not.
_POOL_KERNEL = {"overlapping": 3, "non_overlapping": 2}


def activation(name: str) -> nn.Module:
    """Section 3.1: ReLU, or the saturating tanh and logistic sigmoid it replaced."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    return nn.Tanh() if name == "tanh" else nn.Sigmoid()


def pool_kernel(name: str) -> int:
    return _POOL_KERNEL[name]


def paper_lrn() -> nn.LocalResponseNorm:
    """Section 3.3's response normalisation across kernel maps: k=2, n=5, alpha=1e-4, beta=0.75.

    PyTorch divides alpha by n, the paper does not, hence alpha * size here.
    """
    return nn.LocalResponseNorm(size=5, alpha=1e-4 * 5, beta=0.75, k=2.0)
