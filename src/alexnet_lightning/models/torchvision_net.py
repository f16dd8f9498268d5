"""``model.net.variant=torchvision``: the 64-192-384-256-256 layout of
``torchvision.models.alexnet``, with its state_dict keys, so its published weights load."""

from __future__ import annotations

from alexnet_lightning.models.alexnet import AlexNet, tutorial_init
from alexnet_lightning.models.weights import load_weights

# channels of the five conv layers, width of the two hidden fully connected layers
WIDTHS, HIDDEN = (64, 192, 384, 256, 256), 4096


def build(
    num_classes: int = 1000,
    dropout: float = 0.5,
    init_weights: bool = True,
    weights: str | None = None,
    activation: str = "relu",
    lrn: bool = False,
    pool: str = "overlapping",
    groups: int = 1,
) -> AlexNet:
    """torchvision's AlexNet; ``weights``: e.g. its published ``alexnet-owt-7be5be79.pth``."""
    net = AlexNet(WIDTHS, HIDDEN, num_classes, dropout, activation, lrn, pool, groups)
    if init_weights:
        tutorial_init(net)
    return load_weights(net, weights) if weights else net
