"""ImageNet subsets from a local ILSVRC2012 copy, and the fast.ai Imagenette/Imagewoof downloads.

Both produce an ImageFolder tree (train/<wnid>/, val/<wnid>/) with a manifest.json whose
`classes` and `names` the training code reads (data/manifest.py).
"""

from alexnet_lightning.dataset_tools.imagenet.classes import (
    IMAGENETTE,
    IMAGEWOOF,
    NAMED_LISTS,
    imagenet100,
    imagenet_names,
    named_class_list,
    read_wnid_file,
    resolve_class_list,
)
from alexnet_lightning.dataset_tools.imagenet.download import KNOWN_CHECKSUMS, download_imagenette
from alexnet_lightning.dataset_tools.imagenet.layouts import SourceLayout, detect_layout
from alexnet_lightning.dataset_tools.imagenet.subset import build_subset

__all__ = [
    "IMAGENETTE",
    "IMAGEWOOF",
    "KNOWN_CHECKSUMS",
    "NAMED_LISTS",
    "SourceLayout",
    "build_subset",
    "detect_layout",
    "download_imagenette",
    "imagenet100",
    "imagenet_names",
    "named_class_list",
    "read_wnid_file",
    "resolve_class_list",
]
