"""``model.net.variant=cifar``: the paper's four-layer CIFAR-10 network (Section 3.3 and Figure 1),
as cuda-convnet's ``layers-18pct.cfg`` defines it: three 5 x 5 convolutions with 32, 32 and 64
kernels (padding 2), each followed by a pooling layer of 3 x 3 windows with stride 2 (max, then
average, average), and one fully connected layer to the classes. The activation follows the
first pooling layer, where cuda-convnet puts it (max pooling and a monotonic activation
commute), and the other two convolutions. cuda-convnet's pooling keeps the partial windows at
the border (``ceil_mode``): a 24 px crop gives 12, 6 and 3 px maps, so the classifier sees 64 x
3 x 3.

With ``lrn`` on, the paper's normalisation follows the first two pooling layers, where
``layers-18pct`` has its ``rnorm`` layers (cuda-convnet's same-map variant there, size 3, scale
5e-5; here the paper's Section 3.3 kind across maps, the one whose CIFAR-10 effect it reports).
"""

from __future__ import annotations

from torch import nn

from alexnet_lightning.models import switches
from alexnet_lightning.models.weights import load_weights

WIDTHS = (32, 32, 64)
# The feature map at a 24 px crop; other sizes reach it through the adaptive pool.
FEATURE_SIDE = 3


def _features(act: str, lrn: bool, pool: str, groups: int) -> nn.Sequential:
    c1, c2, c3 = WIDTHS
    k = switches.pool_kernel(pool)

    def norm() -> list[nn.Module]:
        return [switches.paper_lrn()] if lrn else []

    # conv2 sees only its own tower's maps and conv3 sees both, as the paper's conv2 and conv3.
    return nn.Sequential(
        nn.Conv2d(3, c1, kernel_size=5, padding=2),
        nn.MaxPool2d(kernel_size=k, stride=2, ceil_mode=True),
        switches.activation(act),
        *norm(),
        nn.Conv2d(c1, c2, kernel_size=5, padding=2, groups=groups),
        switches.activation(act),
        nn.AvgPool2d(kernel_size=k, stride=2, ceil_mode=True),
        *norm(),
        nn.Conv2d(c2, c3, kernel_size=5, padding=2),
        switches.activation(act),
        nn.AvgPool2d(kernel_size=k, stride=2, ceil_mode=True),
    )


def _classifier(num_classes: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Dropout(p=dropout),
        nn.Linear(WIDTHS[-1] * FEATURE_SIDE * FEATURE_SIDE, num_classes),
    )


class CifarNet(switches.FeaturesThenClassifier):
    """The four-layer network with the paper's switches (as `AlexNet`'s; ``groups=2`` groups
    conv2). The adaptive average pool is the identity at 24 px and lets other sizes through."""

    # The layer the paper's Figure 4 compares: no hidden fully connected layer here, so the
    # flattened last conv block (a create_feature_extractor node).
    last_hidden_layer = "flatten"

    def __init__(
        self,
        num_classes: int = 1000,
        dropout: float = 0.0,
        activation: str = "relu",
        lrn: bool = False,
        pool: str = "overlapping",
        groups: int = 1,
    ) -> None:
        switches.check(WIDTHS, num_classes, dropout, activation, lrn, pool, groups)
        super().__init__(
            _features(activation, lrn, pool, groups),
            _classifier(num_classes, dropout),
            side=FEATURE_SIDE,
        )


def build(
    num_classes: int = 1000,
    dropout: float = 0.0,
    init_weights: bool = True,
    weights: str | None = None,
    activation: str = "relu",
    lrn: bool = False,
    pool: str = "overlapping",
    groups: int = 1,
) -> CifarNet:
    """The CIFAR-10 network; cuda-convnet's has no dropout, hence the default 0."""
    net = CifarNet(num_classes, dropout, activation, lrn, pool, groups)
    if init_weights:
        layers_18pct_init(net)
    return load_weights(net, weights, head="classifier.1.") if weights else net


def layers_18pct_init(net: CifarNet) -> None:
    """``layers-18pct``'s ``initW``: N(0, 1e-4) for conv1 (it saw raw 0-255 pixel values),
    N(0, 0.01) for conv2, conv3 and the fully connected layer; biases 0."""
    convs, linears = net.convs_and_linears()
    for m, std in zip([*convs, *linears], (1e-4, 0.01, 0.01, 0.01), strict=True):
        nn.init.normal_(m.weight, 0.0, std)
        nn.init.zeros_(m.bias)
