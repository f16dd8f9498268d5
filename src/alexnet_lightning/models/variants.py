"""The built-in networks' names and the facts the config checks need before torch is imported.

``model.net.variant=<name>`` builds ``models/<name>_net.py``'s ``build`` (conf/model/alexnet.yaml
interpolates ``model.net._target_`` from it); any other network is chosen by its ``_target_``
alone and needs nothing here.
"""

VARIANTS = ("half", "paper", "torchvision", "cifar")
# Old names still found in checkpoints' hyperparameters: old -> new.
RENAMED = {"seed": "half"}
ACTIVATIONS = ("relu", "tanh", "sigmoid")
POOLS = ("overlapping", "non_overlapping")

# The smallest crop each layout takes: AlexNet's stride-4 conv and three stride-2 pools need
# 64 px; the CIFAR network's three pools (which keep partial windows) need 8.
MIN_IMAGE_SIZE = {"half": 64, "paper": 64, "torchvision": 64, "cifar": 8}


def target_of(variant: str) -> str:
    """The builder ``model.net.variant=<variant>`` instantiates (as conf/model/alexnet.yaml)."""
    return f"alexnet_lightning.models.{RENAMED.get(variant, variant)}_net.build"


def net_name(net: dict) -> str:
    """A network config's short name: its variant for a built-in one, else its ``_target_``."""
    variant = RENAMED.get(net.get("variant"), net.get("variant"))
    target = net.get("_target_")
    return variant if target is None or target == target_of(variant) else str(target)
