"""The names of AlexNet's layouts (models/alexnet.py), importable without torch, so the config
checks that run before torch is imported can name them."""

VARIANTS = ("seed", "paper", "torchvision")
