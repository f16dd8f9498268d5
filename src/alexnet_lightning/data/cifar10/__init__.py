"""CIFAR-10 (``data=cifar10``): the official python archive, fetched and read with torchvision,
packed once into data/packed's format."""
