"""AlexNet research template: PyTorch Lightning + Hydra."""

__version__ = "0.1.0"
