"""A CIFAR-10 python archive in the official format (the same file names, pickled dict keys,
shapes and dtypes), with generated images: for tests and benchmarks on machines without the
real data. Each class has its own colour, so a network can learn it."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from alexnet_lightning.files import write_bytes

CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
FOLDER = "cifar-10-batches-py"


def _batch(rng: np.random.Generator, count: int, name: str) -> bytes:
    labels = rng.integers(0, len(CLASSES), size=count)
    base = np.stack([(labels * 97) % 256, (labels * 53 + 80) % 256, (labels * 151) % 256], 1)
    noise = rng.integers(-40, 40, size=(count, 3, 1024))
    # rows of 3072 bytes: the red plane, then green, then blue, each 32 x 32 row-major
    data = np.clip(base[:, :, None] + noise, 0, 255).astype(np.uint8).reshape(count, 3072)
    entry = {"batch_label": name, "labels": labels.tolist(), "data": data, "filenames": []}
    return pickle.dumps(entry, protocol=2)


def write_cifar10_archive(
    path: str | Path, per_batch: int = 10_000, test: int = 10_000, seed: int = 0
) -> str:
    """Write ``cifar-10-python.tar.gz`` with five training batches of ``per_batch`` images and
    a test batch of ``test``; returns its md5."""
    rng = np.random.default_rng(seed)
    members = {
        f"data_batch_{i}": _batch(rng, per_batch, f"training batch {i} of 5") for i in range(1, 6)
    }
    members["test_batch"] = _batch(rng, test, "testing batch 1 of 1")
    meta = {"label_names": list(CLASSES), "num_cases_per_batch": per_batch, "num_vis": 3072}
    members["batches.meta"] = pickle.dumps(meta, protocol=2)
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    # mtime 0 in the tar and gzip headers: the same arguments give the same bytes (and md5)
    payload = gzip.compress(tar_bytes.getvalue(), compresslevel=1, mtime=0)
    write_bytes(path, payload)
    return hashlib.md5(payload).hexdigest()
