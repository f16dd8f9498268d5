"""The built-in networks by variant name, as ``model.net.variant=<name>`` builds them."""

from torch import nn

from alexnet_lightning.models.net import build_net


def alexnet(variant: str = "half", **kwargs) -> nn.Module:
    return build_net({"variant": variant, **kwargs})
