"""The layers the paper's ideas switch between, shared by every layout, and the check of the
switches' values.

A bad value raises ValueError whose message starts ``<argument>=<value>``: the entry names the
config key from it (``model.net.<argument>``), so the network itself knows no config.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import nn

from alexnet_lightning.models.variants import ACTIVATIONS, POOLS

# Section 3.4: pooling windows of 3 with stride 2 overlap; the usual 2 x 2 windows do not.
_POOL_KERNEL = {"overlapping": 3, "non_overlapping": 2}


class FeaturesThenClassifier(nn.Module):
    """features -> adaptive average pool -> flatten -> classifier: the layout of AlexNet (as
    torchvision's, whose state_dict keys it keeps) and of the CIFAR-10 network."""

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential, side: int) -> None:
        super().__init__()
        self.features = features
        # classifier before avgpool: the order module summaries and named_modules() list
        self.classifier = classifier
        self.avgpool = nn.AdaptiveAvgPool2d((side, side))

    def convs_and_linears(self) -> tuple[list[nn.Conv2d], list[nn.Linear]]:
        return (
            [m for m in self.features if isinstance(m, nn.Conv2d)],
            [m for m in self.classifier if isinstance(m, nn.Linear)],
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def invalid(name: str, value: object, must: str) -> ValueError:
    """The error a network raises for a bad argument: ``name=value is invalid: it must be ...``."""
    return ValueError(f"{name}={value!r} is invalid: it must be {must}")


def check(
    widths: Sequence[int],
    num_classes: int,
    dropout: float,
    activation: str,
    lrn: bool,
    pool: str,
    groups: int,
) -> None:
    """Raise ValueError for the first switch a layout with conv ``widths`` cannot take."""
    whole = isinstance(num_classes, numbers.Integral) and not isinstance(num_classes, bool)
    if not whole or num_classes < 1:
        raise invalid("num_classes", num_classes, "an integer >= 1")
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
        raise invalid("dropout", dropout, "a number in [0.0, 1.0), e.g. 0.5")
    if activation not in ACTIVATIONS:
        raise invalid("activation", activation, "one of " + ", ".join(ACTIVATIONS))
    if not isinstance(lrn, bool):
        raise invalid("lrn", lrn, "true or false")
    if pool not in POOLS:
        raise invalid("pool", pool, "one of " + ", ".join(POOLS))
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise invalid("groups", groups, "an integer >= 1, e.g. 2 (the paper's two towers)")
    if any(w % groups for w in widths):
        raise ValueError(
            f"groups={groups} does not divide the network's conv widths {list(widths)}; "
            "use groups=1 or 2"
        )


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
