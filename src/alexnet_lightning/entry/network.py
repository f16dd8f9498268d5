"""The network checked before any data is read, and its errors as one line naming the key.

A network knows no config: it raises ValueError starting ``<argument>=<value>``; here that
becomes ``model.net.<argument>=<value> ...``, a ConfigError (one line, exit 2).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf

from alexnet_lightning.errors import ConfigError
from alexnet_lightning.models.net import accepted, build_net, builder, current_spec

log = logging.getLogger(__name__)


def as_config_error(err: ValueError, net: Mapping[str, Any]) -> ConfigError | None:
    """The ConfigError naming ``model.net.<argument>`` for a network's ValueError about one of
    its arguments (``net``'s keys); None for any other ValueError (a bug, kept as raised)."""
    message = str(err)
    argument = message.split("=", 1)[0] if "=" in message else None
    if argument is None or (argument not in net and argument != "_target_"):
        return None
    return ConfigError(f"model.net.{message}")


@contextmanager
def net_errors(net: Mapping[str, Any]) -> Iterator[None]:
    """Turn a network's ValueError about an argument, raised directly or through Hydra's
    instantiate (which wraps it), into a one-line ConfigError."""
    try:
        yield
    except (ValueError, InstantiationException) as err:
        cause = err.__cause__ if isinstance(err, InstantiationException) else err
        error = as_config_error(cause, net) if isinstance(cause, ValueError) else None
        if error is None:
            raise
        raise error from None


def check_network(net_cfg: DictConfig) -> None:
    """Build the network on the meta device (no memory, no data, milliseconds), so a bad
    ``model.net`` value stops the run before its data is read or packed."""
    net = current_spec(OmegaConf.to_container(net_cfg, resolve=True))
    with net_errors(net):
        # variant only chooses the default _target_; no builder takes it
        ignored = [k for k in accepted(builder(net), net)[1] if k != "variant"]
        with torch.device("meta"), warnings.catch_warnings():
            # a weights file is read (mapped) and copied onto meta tensors: a no-op by design
            warnings.filterwarnings("ignore", message=".*copying from a non-meta parameter")
            build_net(net)
    if ignored:
        log.info(
            "model.net._target_=%s takes no %s; those model.net keys are not used",
            net["_target_"],
            ", ".join(ignored),
        )
