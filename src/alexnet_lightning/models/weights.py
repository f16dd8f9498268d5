"""Starting a network from a state_dict file (``weights=``, e.g. torchvision's published
AlexNet), for the builders in models/*_net.py."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn


def load_weights(net: nn.Module, path: str | Path, head: str = "classifier.6.") -> nn.Module:
    """Load the state_dict file at ``path`` into ``net`` and return it; ValueError names
    ``weights=<path>`` when the file is missing, unreadable or of another layout.

    The output layer's keys (``head``) are dropped when their shape differs, so a published
    1000-class network's features can be fine-tuned on a subset.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"weights={str(path)!r} is invalid: no such file")
    try:
        # mapped, not read: only the tensors that fit are copied out of it
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError, OSError) as err:
        cause = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(
            f"weights={str(path)!r} is invalid: not a readable state_dict file ({cause}); pass "
            "a file saved with torch.save(model.state_dict()) or a checkpoint"
        ) from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = net.state_dict()
    state = {
        k: v
        for k, v in state.items()
        if not (k.startswith(head) and k in own and v.shape != own[k].shape)
    }
    wrong_shape = [k for k, v in state.items() if k in own and v.shape != own[k].shape]
    missing = [k for k in own if k not in state and not k.startswith(head)]
    unexpected = [k for k in state if k not in own]
    if wrong_shape or missing or unexpected:
        raise ValueError(
            f"weights={str(path)!r} is invalid: it does not fit this network (wrong shape "
            f"{wrong_shape[:3]}, missing {missing[:3]}, unexpected {unexpected[:3]}); pick the "
            "network the weights were saved from, e.g. model.net.variant=torchvision for "
            "torchvision's published weights"
        )
    net.load_state_dict(state, strict=False)
    return net
