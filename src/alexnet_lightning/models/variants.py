"""The names of AlexNet's layouts and switches (models/alexnet.py), importable without torch, so
the config checks that run before torch is imported can name them."""

VARIANTS = ("seed", "paper", "torchvision", "cifar")
ACTIVATIONS = ("relu", "tanh", "sigmoid")
POOLS = ("overlapping", "non_overlapping")

# The smallest crop each layout takes: AlexNet's stride-4 conv and three stride-2 pools need
# 64 px; the CIFAR network's three pools (which keep partial windows) need 8.
MIN_IMAGE_SIZE = {"seed": 64, "paper": 64, "torchvision": 64, "cifar": 8}


def default_lrn(variant: str) -> bool:
    """What ``lrn=null`` means: the paper's network normalises, the other layouts do not."""
    return variant == "paper"


def default_dropout(variant: str) -> float:
    """What ``dropout=null`` means: AlexNet's 0.5 (Section 4.2); cuda-convnet's CIFAR network
    has no dropout."""
    return 0.0 if variant == "cifar" else 0.5


def switches(net: dict) -> dict:
    """The switches a network config or a checkpoint's ``hyper_parameters['net']`` builds: a
    key left out or ``null`` is AlexNet's default, as the network itself reads it."""
    variant = net.get("variant", "seed")
    lrn = net.get("lrn")
    return {
        "activation": net.get("activation", "relu"),
        "lrn": default_lrn(variant) if lrn is None else lrn,
        "pool": net.get("pool", "overlapping"),
        "groups": net.get("groups", 1),
    }


# The layer whose outputs the paper's Figure 4 compares (create_feature_extractor node names of
# models/alexnet.py): the second 4096 (2048) wide hidden layer after its activation for the
# AlexNet layouts; the CIFAR network has no hidden FC, so its flattened last conv block.
LAST_HIDDEN_LAYER = {
    "seed": "classifier.5",
    "paper": "classifier.5",
    "torchvision": "classifier.5",
    "cifar": "flatten",
}
