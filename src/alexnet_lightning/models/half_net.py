"""``model.net.variant=half``: the tutorial's half-width AlexNet (48-128-192-192-128 channels,
a 2048-wide classifier), the width of one of the paper's two GPU towers."""

from __future__ import annotations

from alexnet_lightning.models.alexnet import AlexNet, tutorial_init
from alexnet_lightning.models.weights import load_weights

# channels of the five conv layers, width of the two hidden fully connected layers
WIDTHS, HIDDEN = (48, 128, 192, 192, 128), 2048


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
    """The half-width AlexNet; the switches as `AlexNet`'s, ``weights`` a state_dict file."""
    net = AlexNet(WIDTHS, HIDDEN, num_classes, dropout, activation, lrn, pool, groups)
    if init_weights:
        tutorial_init(net)
    return load_weights(net, weights) if weights else net
