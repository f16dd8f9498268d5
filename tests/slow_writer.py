"""Test helper, run as a script: save a checkpoint, then die in the middle of saving the next.

``python -m tests.slow_writer PATH``: writes version 1 of PATH completely with
AtomicCheckpointIO, then starts version 2 with a torch.save that writes half its bytes,
prints ``writing`` and waits to be SIGKILLed.
"""

import io
import sys
import time
from pathlib import Path

import torch

from alexnet_lightning.checkpoints import AtomicCheckpointIO


def _half_then_hang(obj: object, file: io.BufferedWriter) -> None:
    buffer = io.BytesIO()
    _real_save(obj, buffer)
    data = buffer.getvalue()
    file.write(data[: len(data) // 2])
    file.flush()
    print("writing", flush=True)
    time.sleep(600)


_real_save = torch.save

if __name__ == "__main__":
    path = Path(sys.argv[1])
    checkpoint_io = AtomicCheckpointIO()
    checkpoint_io.save_checkpoint({"version": 1, "weights": torch.arange(100_000.0)}, path)
    torch.save = _half_then_hang
    checkpoint_io.save_checkpoint({"version": 2, "weights": torch.zeros(100_000)}, path)
