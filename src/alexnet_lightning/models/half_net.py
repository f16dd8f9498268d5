"""``model.net.variant=half``: the tutorial's half-width AlexNet (48-128-192-192-128 channels,
a 2048-wide classifier), the width of one of the paper's two GPU towers, with the tutorial's
init (Kaiming-normal convs, N(0, 0.01) linears, zero biases)."""

from functools import partial

from alexnet_lightning.models.alexnet import build_alexnet, tutorial_init

build = partial(build_alexnet, (48, 128, 192, 192, 128), 2048, init=tutorial_init)
