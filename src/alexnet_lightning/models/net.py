"""A network from its config (``model.net``): ``_target_`` names any class or builder, the other
keys are its keyword arguments.

A key the target does not take is not passed (a plugin network takes ``num_classes`` and may
ignore the paper's switches), and a key set to null is not passed either, so the target's own
default applies (``lrn: null`` is on for ``paper`` only, because paper_net.build says so).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from alexnet_lightning.models.variants import RENAMED, target_of


def current_spec(net: Mapping[str, Any]) -> dict[str, Any]:
    """``net`` as today's config writes it: checkpoints saved before networks were chosen by
    ``_target_`` name only a variant, and the half-width net was called ``seed``."""
    spec = dict(net)
    if spec.get("variant") in RENAMED:
        spec["variant"] = RENAMED[spec["variant"]]
    spec.setdefault("_target_", target_of(spec.get("variant", "half")))
    return spec


def builder(net: Mapping[str, Any]) -> Callable[..., nn.Module]:
    """The class or function ``net['_target_']`` names; ValueError if it cannot be imported."""
    target = current_spec(net)["_target_"]
    # by hand: hydra.utils.get_object logs a multi-line error of its own before it raises,
    # where a bad target must stop in one line
    module, _, name = str(target).rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as err:
        cause = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"_target_={target!r} is invalid: it must name an importable class or function "
            f"({cause})"
        ) from None


def accepted(make: Callable[..., Any], net: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """The keyword arguments of ``net`` that ``make`` takes (null ones left to its default),
    and the keys it does not take."""
    params = inspect.signature(make).parameters.values()
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    names = {p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL}
    given = {k: v for k, v in net.items() if not k.startswith("_")}
    kwargs = {k: v for k, v in given.items() if v is not None and (takes_any or k in names)}
    ignored = [k for k in given if not takes_any and k not in names]
    return kwargs, ignored


def build_net(net: Mapping[str, Any], **overrides: Any) -> nn.Module:
    """The network ``net`` configures, ``overrides`` merged into its arguments. A bad argument
    raises the builder's ValueError (``<argument>=<value> ...``)."""
    spec = current_spec(net) | overrides
    make = builder(spec)
    kwargs, _ = accepted(make, spec)
    return make(**kwargs)


def built_value(net: Mapping[str, Any], key: str) -> Any:
    """The value of argument ``key`` the network is built with: the config's, or the builder's
    default where the config says null (None if the builder takes no such argument)."""
    spec = current_spec(net)
    if spec.get(key) is not None:
        return spec[key]
    param = inspect.signature(builder(spec)).parameters.get(key)
    return None if param is None or param.default is inspect.Parameter.empty else param.default
