"""AlexNet in three layouts (the tutorial's half-width network, the 2012 paper's, torchvision's)
and the paper's four-layer CIFAR-10 network, each with the paper's ideas as switches.

Krizhevsky, Sutskever, Hinton. "ImageNet Classification with Deep Convolutional Neural
Networks". NeurIPS 2012.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from alexnet_lightning.checkpoints import load_torch_file
from alexnet_lightning.config_checks import check_value
from alexnet_lightning.errors import CheckpointError, ConfigError
from alexnet_lightning.models import cifar_net, switches
from alexnet_lightning.models.variants import default_dropout, default_lrn

# Channel widths of the five conv layers and the width of the two hidden linear layers.
_WIDTHS = {
    "seed": ((48, 128, 192, 192, 128), 2048),
    "paper": ((96, 256, 384, 384, 256), 4096),
    "torchvision": ((64, 192, 384, 256, 256), 4096),
}


def _features(variant: str, act: str, lrn: bool, pool: str, groups: int) -> nn.Sequential:
    c1, c2, c3, c4, c5 = _WIDTHS[variant][0]
    k = switches.pool_kernel(pool)

    def normalised() -> list[nn.Module]:
        # Section 3.3: after the first two ReLUs.
        return [switches.paper_lrn()] if lrn else []

    # torchvision's layout uses an 11x11 stride-4 conv with padding 2 like the tutorial; the
    # paper does not state padding, and padding 2 gives its 55x55 first feature map at 224 px.
    # Section 3.2's two towers: conv2, conv4 and conv5 see only their own GPU's maps.
    layers: list[nn.Module] = [
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
    ]
    return nn.Sequential(*layers)


def _classifier(variant: str, num_classes: int, dropout: float, act: str) -> nn.Sequential:
    channels, hidden = _WIDTHS[variant][0][-1], _WIDTHS[variant][1]
    return nn.Sequential(
        nn.Dropout(p=dropout),
        nn.Linear(channels * 6 * 6, hidden),
        switches.activation(act),
        nn.Dropout(p=dropout),
        nn.Linear(hidden, hidden),
        switches.activation(act),
        nn.Linear(hidden, num_classes),
    )


def _check_groups(variant: str, groups: int) -> None:
    widths = cifar_net.WIDTHS if variant == "cifar" else _WIDTHS[variant][0]
    if any(w % groups for w in widths):
        raise ConfigError(
            f"model.net.groups={groups} does not divide the {variant} network's conv widths "
            f"{list(widths)}; use model.net.groups=1 or 2"
        )


class AlexNet(nn.Module):
    """AlexNet (Krizhevsky et al., 2012) with a choice of layout and the paper's switches.

    Args:
        variant: ``seed``: the tutorial's half-width network (48-128-192-192-128 channels,
            2048-wide classifier). ``paper``: the paper's network as one tower
            (96-256-384-384-256, LRN after the first two ReLUs, 4096-wide classifier, paper
            init). ``torchvision``: the 64-192-384-256-256 layout of
            ``torchvision.models.alexnet`` with identical state_dict keys. ``cifar``: the
            paper's four-layer CIFAR-10 network (cuda-convnet's ``layers-18pct``, 32-32-64
            channels; see models/cifar_net.py).
        num_classes: size of the output layer.
        dropout: dropout probability before the hidden linear layers (the CIFAR network: before
            its one linear layer); None: 0.5, or 0 for ``cifar``. 0 turns it off (Section 4.2).
        init_weights: initialise as the variant's source does; False keeps PyTorch's defaults.
        weights: optional path to a state_dict (e.g. torchvision's published ``alexnet`` file)
            to load after construction. A 1000-class head is dropped when ``num_classes``
            differs, so the published features can be fine-tuned on a subset.
        activation: ``relu``, ``tanh`` or ``sigmoid`` in every hidden layer (Section 3.1).
        lrn: the paper's local response normalisation (Section 3.3); None: on for ``paper``
            only.
        pool: ``overlapping`` max pooling (3 x 3 windows, stride 2; Section 3.4) or
            ``non_overlapping`` (2 x 2, stride 2). Feature map sizes are the same either way.
        groups: 2 gives the paper's two-GPU connectivity (Section 3.2): conv2, conv4 and conv5
            (the CIFAR network: conv2) see only their own tower's maps, as grouped convolutions;
            the other layers see both.

    The adaptive average pool before the classifier is the identity at 224 px (the CIFAR
    network: at 24 px) and lets other crop sizes through the same classifier.
    """

    def __init__(
        self,
        variant: str = "seed",
        num_classes: int = 1000,
        dropout: float | None = None,
        init_weights: bool = True,
        weights: str | None = None,
        activation: str = "relu",
        lrn: bool | None = None,
        pool: str = "overlapping",
        groups: int = 1,
    ) -> None:
        super().__init__()
        check_value("model.net.variant", variant)
        dropout = default_dropout(variant) if dropout is None else dropout
        lrn = default_lrn(variant) if lrn is None else lrn
        for key, value in (
            ("dropout", dropout),
            ("activation", activation),
            ("lrn", lrn),
            ("pool", pool),
            ("groups", groups),
        ):
            check_value(f"model.net.{key}", value)
        _check_groups(variant, groups)
        if num_classes < 1:
            raise ConfigError(f"model.net.num_classes={num_classes} must be at least 1")
        self.variant = variant
        if variant == "cifar":
            self.features = cifar_net.features(activation, lrn, pool, groups)
            side = cifar_net.FEATURE_SIDE
            self.classifier = cifar_net.classifier(num_classes, dropout)
        else:
            self.features = _features(variant, activation, lrn, pool, groups)
            side = 6
            self.classifier = _classifier(variant, num_classes, dropout, activation)
        self.avgpool = nn.AdaptiveAvgPool2d((side, side))
        if init_weights:
            self.init_weights()
        if weights:
            self.load_weights(weights)

    def init_weights(self) -> None:
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        linears = [m for m in self.classifier if isinstance(m, nn.Linear)]
        if self.variant == "paper":
            self._init_paper(convs, linears)
        elif self.variant == "cifar":
            cifar_net.init_weights(convs, linears)
        else:
            # The tutorial's init; torchvision's own model keeps PyTorch defaults, but the same
            # scheme trains its layout from scratch just as well.
            for m in convs:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            for m in linears:
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    @staticmethod
    def _init_paper(convs: list[nn.Conv2d], linears: list[nn.Linear]) -> None:
        # Section 5: weights N(0, 0.01); biases 1 in conv2, conv4, conv5 and the hidden fully
        # connected layers (to give ReLUs positive inputs early), 0 elsewhere.
        bias_one = {id(convs[1]), id(convs[3]), id(convs[4]), id(linears[0]), id(linears[1])}
        for m in convs + linears:
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.constant_(m.bias, 1.0 if id(m) in bias_one else 0.0)

    def load_weights(self, path: str | Path) -> None:
        """Load a state_dict file with this layout's keys (e.g. torchvision's alexnet weights)."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"model.net.weights={path}: no such file")
        state = load_torch_file(
            path,
            f"model.net.weights={path}",
            "state_dict file",
            fix="pass a file saved with torch.save(model.state_dict()) or a checkpoint",
        )
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        own = self.state_dict()
        head = f"classifier.{len(self.classifier) - 1}."
        # A published 1000-class head is dropped when this model has another class count.
        state = {
            k: v
            for k, v in state.items()
            if not (k.startswith(head) and k in own and v.shape != own[k].shape)
        }
        wrong_shape = [k for k, v in state.items() if k in own and v.shape != own[k].shape]
        missing = [k for k in own if k not in state and not k.startswith(head)]
        unexpected = [k for k in state if k not in own]
        if wrong_shape or missing or unexpected:
            raise CheckpointError(
                f"model.net.weights={path} does not fit variant {self.variant!r} "
                f"(wrong shape {wrong_shape[:3]}, missing {missing[:3]}, "
                f"unexpected {unexpected[:3]}); pick the variant the weights were saved from, "
                "e.g. model.net.variant=torchvision for torchvision's published weights"
            )
        self.load_state_dict(state, strict=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)
