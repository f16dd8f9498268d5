"""AlexNet's topology (five convolutions, three fully connected layers) at any widths, with the
paper's ideas as switches; the layouts that fill in the widths are models/*_net.py.

Krizhevsky, Sutskever, Hinton. "ImageNet Classification with Deep Convolutional Neural
Networks". NeurIPS 2012.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from alexnet_lightning.models import switches
from alexnet_lightning.models.weights import load_weights


def _features(widths: Sequence[int], act: str, lrn: bool, pool: str, groups: int) -> nn.Sequential:
    c1, c2, c3, c4, c5 = widths
    k = switches.pool_kernel(pool)

    def normalised() -> list[nn.Module]:
        # Section 3.3: after the first two ReLUs.
        return [switches.paper_lrn()] if lrn else []

    # torchvision's layout uses an 11x11 stride-4 conv with padding 2 like the tutorial; the
    # paper does not state padding, and padding 2 gives its 55x55 first feature map at 224 px.
    # Section 3.2's two towers: conv2, conv4 and conv5 see only their own GPU's maps.
    return nn.Sequential(
        nn.Conv2d(3, c1, kernel_size=11, stride=4, padding=2),
        switches.activation(act),
        *normalised(),
        nn.MaxPool2d(kernel_size=k, stride=2),
        nn.Conv2d(c1, c2, kernel_size=5, padding=2, groups=groups),
        switches.activation(act),
        *normalised(),
        nn.MaxPool2d(kernel_size=k, stride=2),
        nn.Conv2d(c2, c3, kernel_size=3, padding=1),
        switches.activation(act),
        nn.Conv2d(c3, c4, kernel_size=3, padding=1, groups=groups),
        switches.activation(act),
        nn.Conv2d(c4, c5, kernel_size=3, padding=1, groups=groups),
        switches.activation(act),
        nn.MaxPool2d(kernel_size=k, stride=2),
    )


def _classifier(
    channels: int, hidden: int, num_classes: int, dropout: float, act: str
) -> nn.Sequential:
    return nn.Sequential(
        nn.Dropout(p=dropout),
        nn.Linear(channels * 6 * 6, hidden),
        switches.activation(act),
        nn.Dropout(p=dropout),
        nn.Linear(hidden, hidden),
        switches.activation(act),
        nn.Linear(hidden, num_classes),
    )


class AlexNet(switches.FeaturesThenClassifier):
    """AlexNet (Krizhevsky et al., 2012) with the given widths and the paper's switches.

    Args:
        widths: channels of the five conv layers.
        hidden: width of the two hidden fully connected layers.
        num_classes: size of the output layer.
        dropout: dropout probability before the hidden linear layers (Section 4.2; 0: off).
        activation: ``relu``, ``tanh`` or ``sigmoid`` in every hidden layer (Section 3.1).
        lrn: the paper's local response normalisation after the first two ReLUs (Section 3.3).
        pool: ``overlapping`` max pooling (3 x 3 windows, stride 2; Section 3.4) or
            ``non_overlapping`` (2 x 2, stride 2). Feature map sizes are the same either way.
        groups: 2 gives the paper's two-GPU connectivity (Section 3.2): conv2, conv4 and conv5
            see only their own tower's maps, as grouped convolutions.

    Raises ValueError for a bad switch. The adaptive average pool before the classifier is the
    identity at 224 px and lets other crop sizes through the same classifier. Parameters start
    at PyTorch's defaults; the layouts initialise them as their sources do.
    """

    # The layer whose outputs the paper's Figure 4 compares (a create_feature_extractor node):
    # the second hidden layer after its activation.
    last_hidden_layer = "classifier.5"

    def __init__(
        self,
        widths: Sequence[int],
        hidden: int,
        num_classes: int = 1000,
        dropout: float = 0.5,
        activation: str = "relu",
        lrn: bool = False,
        pool: str = "overlapping",
        groups: int = 1,
    ) -> None:
        switches.check(widths, num_classes, dropout, activation, lrn, pool, groups)
        super().__init__(
            _features(widths, activation, lrn, pool, groups),
            _classifier(widths[-1], hidden, num_classes, dropout, activation),
            side=6,
        )


def tutorial_init(net: AlexNet) -> None:
    """The tutorial's init: Kaiming-normal convs, N(0, 0.01) linears, zero biases. torchvision's
    own model keeps PyTorch's defaults, but this scheme trains its layout from scratch as well."""
    convs, linears = net.convs_and_linears()
    for m in convs:
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(m.bias)
    for m in linears:
        nn.init.normal_(m.weight, 0.0, 0.01)
        nn.init.zeros_(m.bias)


def build_alexnet(
    widths: Sequence[int],
    hidden: int,
    num_classes: int = 1000,
    dropout: float = 0.5,
    init_weights: bool = True,
    weights: str | None = None,
    activation: str = "relu",
    lrn: bool = False,
    pool: str = "overlapping",
    groups: int = 1,
    *,
    init: Callable[[AlexNet], None] = tutorial_init,
) -> AlexNet:
    """An `AlexNet` layout's builder: ``init`` its initialisation (``init_weights=false`` keeps
    PyTorch's defaults), ``weights`` a state_dict file to start from (models/weights.py). Each
    layout module binds its widths and defaults with functools.partial."""
    net = AlexNet(widths, hidden, num_classes, dropout, activation, lrn, pool, groups)
    if init_weights:
        init(net)
    return load_weights(net, weights) if weights else net
