"""Packed datasets: every image decoded once into one memory-mappable uint8 array per split."""

from alexnet_lightning.data.packed.pack import pack_dataset
from alexnet_lightning.data.packed.store import PackedInfo, PackedSplit, read_packed_manifest

__all__ = ["PackedInfo", "PackedSplit", "pack_dataset", "read_packed_manifest"]
