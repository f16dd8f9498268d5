"""Every random number generator of the process, saved in checkpoints and restored on resume."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch


class RNGStateCheckpoint(L.Callback):
    """Puts the torch (CPU and CUDA), numpy and python RNG states into each checkpoint.

    Lightning's Trainer restores weights, optimizer, scheduler and loop counters but not these,
    so a resumed run would draw other dropout masks and augmentations than the run it
    continues; Fabric's ``_collect_rng_states`` holds numpy arrays, which
    ``torch.load(weights_only=True)`` refuses. Here they are tensors, ints and lists. Restored
    when Lightning restores callbacks, before the sanity check and the first batch. Data order
    and crops do not depend on these (see ``data/samplers.py``), so prefetching loaders cannot
    make them run ahead.
    """

    def state_dict(self) -> dict[str, Any]:
        version, keys, gauss = random.getstate()
        numpy_state = np.random.get_state(legacy=False)
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": {
                "bit_generator": numpy_state["bit_generator"],
                "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
                "pos": int(numpy_state["state"]["pos"]),
                "has_gauss": int(numpy_state["has_gauss"]),
                "gauss": float(numpy_state["gauss"]),
            },
            "python": {"version": version, "keys": list(keys), "gauss": gauss},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        if state_dict["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])
        numpy_state = state_dict["numpy"]
        np.random.set_state(
            {
                "bit_generator": numpy_state["bit_generator"],
                "state": {
                    "key": numpy_state["key"].numpy().astype(np.uint32),
                    "pos": numpy_state["pos"],
                },
                "has_gauss": numpy_state["has_gauss"],
                "gauss": numpy_state["gauss"],
            }
        )
        python = state_dict["python"]
        random.setstate((python["version"], tuple(python["keys"]), python["gauss"]))
