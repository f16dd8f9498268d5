"""``model.net.variant=paper``: the 2012 paper's network as one tower (96-256-384-384-256
channels, LRN after the first two ReLUs, 4096-wide classifier) and its initialisation."""

from __future__ import annotations

from functools import partial

from torch import nn

from alexnet_lightning.models.alexnet import AlexNet, build_alexnet


def paper_init(net: AlexNet) -> None:
    """Section 5: weights N(0, 0.01); biases 1 in conv2, conv4, conv5 and the hidden fully
    connected layers (to give ReLUs positive inputs early), 0 elsewhere."""
    convs, linears = net.convs_and_linears()
    bias_one = {id(convs[1]), id(convs[3]), id(convs[4]), id(linears[0]), id(linears[1])}
    for m in convs + linears:
        nn.init.normal_(m.weight, 0.0, 0.01)
        nn.init.constant_(m.bias, 1.0 if id(m) in bias_one else 0.0)


build = partial(build_alexnet, (96, 256, 384, 384, 256), 4096, lrn=True, init=paper_init)
