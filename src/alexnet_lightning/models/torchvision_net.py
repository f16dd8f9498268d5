"""``model.net.variant=torchvision``: the 64-192-384-256-256 layout of
``torchvision.models.alexnet``, with its state_dict keys, so its published weights load
(``model.net.weights=alexnet-owt-7be5be79.pth``). torchvision's own model keeps PyTorch's
default init; the tutorial's trains this layout from scratch as well."""

from functools import partial

from alexnet_lightning.models.alexnet import build_alexnet, tutorial_init

build = partial(build_alexnet, (64, 192, 384, 256, 256), 4096, init=tutorial_init)
