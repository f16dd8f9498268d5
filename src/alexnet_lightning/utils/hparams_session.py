"""The run's TensorBoard HParams session: the hyperparameters a researcher compares, the metrics.

Each run writes an experiment summary (its hyperparameter and metric columns) and a session
(its values). TensorBoard shows the columns of one run's experiment summary for every run
under the logdir, so every job of a sweep must list the same columns: the curated keys below
plus the keys the job's overrides set, which are the same for every job of a sweep.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2, summary_v2

from alexnet_lightning.models.net import built_value
from alexnet_lightning.sweeps.jobs import TRIAL_KEY

# The keys a researcher sweeps, as config paths; a run lists those its config has.
CURATED = (
    "model.optimizer",  # the optimizer's class name (AdamW, SGD)
    "model.optimizer.lr",
    "model.optimizer.weight_decay",
    "model.optimizer.momentum",
    "data.batch_size",
    "data.image_size",
    "model.net.variant",
    "model.net.activation",
    "model.net.lrn",
    "model.net.pool",
    "model.net.groups",
    "model.net.dropout",
    "data.hflip",
    "data.train_crop",
    "data.crop_scale",
    "data.lighting_std",
    "seed",
    "experiment",  # Hydra's choice of the experiment group
    "tags",
)
# Listed first in a single run, beside its overrides: the columns TensorBoard shows before any
# is ticked.
HEADLINE = (
    "model.optimizer.lr",
    "model.optimizer.weight_decay",
    "model.net.variant",
    "model.net.dropout",
    "seed",
)
# Switches whose null means "the network's default": shown as the value it builds.
NET_DEFAULTS = ("model.net.dropout", "model.net.lrn")
# The HParams table's metric columns, in this order (TensorBoard shows the first five).
METRICS = ("val/acc_best", "val/acc", "val/loss", "test/acc", "test/loss")
# Overrides that are sweeper plumbing, not a choice of the run.
PLUMBING = (TRIAL_KEY, "hparams_search")
# Keys that hold a file or folder: they differ between machines, not between experiments.
PATH_KEYS = ("root", "dirpath", "save_dir", "ckpt_path", "weights", "inputs", "missing_hint")
PATH_SUFFIXES = ("_dir", "_path", "_root", "_file")


def is_path_key(key: str) -> bool:
    last = key.rsplit(".", 1)[-1]
    return key.startswith("paths.") or last in PATH_KEYS or last.endswith(PATH_SUFFIXES)


def hparams_summaries(cfg: DictConfig, trial_id: str) -> list[Summary]:
    """The experiment summary (columns) and the session-start summary (values) of this run;
    ``trial_id`` names its row."""
    values, first = curated_hparams(cfg)
    experiment = api_pb2.Experiment(
        hparam_infos=[
            api_pb2.HParamInfo(name=name, type=_data_type(values.get(name)), differs=name in first)
            for name in sorted(set(values) | first)
        ],
        metric_infos=[summary_v2.Metric(tag).as_proto() for tag in METRICS],
    )
    data = plugin_data_pb2.HParamsPluginData(experiment=experiment)
    columns = Summary(
        value=[
            Summary.Value(
                tag=metadata.EXPERIMENT_TAG,
                metadata=metadata.create_summary_metadata(data),
                tensor=metadata.NULL_TENSOR,
            )
        ]
    )
    return [columns, summary_v2.hparams_pb(values, trial_id=trial_id)]


def curated_hparams(cfg: DictConfig) -> tuple[dict[str, bool | float | str], set[str]]:
    """``({name: value}, names listed first)``: the curated keys this run has and every key its
    overrides set, named by their config path with ``/`` (``model/optimizer/lr``). No paths,
    nulls or Hydra's ``_target_``/``_partial_``; lists become strings.

    Listed first (TensorBoard orders its columns by their ``differs`` flag, then by name, and
    shows five): in a sweep the keys it varies; in a single run its overrides and HEADLINE.
    A swept config group (``model/optimizer=sgd``) also lists the curated keys under it,
    present or not, so an AdamW job shows an empty momentum column beside its SGD siblings.
    """
    values = {key: value for key in CURATED if (value := _value(cfg, key)) is not None}
    swept = _swept_keys()
    first = {key for key in HEADLINE if key in values} if swept is None else set()
    for key, option in _overridden_keys():
        value = _value(cfg, key)
        value = option if value is None else value
        if value is None:  # set to null: nothing to show
            continue
        values[key] = value
        if swept is None or key in swept:
            first |= {key} | {c for c in CURATED if c.startswith(f"{key}.")}
    name = {key: key.replace(".", "/") for key in (*values, *first)}
    return {name[k]: v for k, v in values.items()}, {name[k] for k in first}


def _swept_keys() -> set[str] | None:
    """The dotted keys this job's sweep varies (its sweeper's ``params`` and the command line's
    ``key=a,b``/``range(...)`` overrides, as saved in the sweep's multirun.yaml); None when
    the run is not a sweep's job."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    hydra = HydraConfig.get()
    keys = set(hydra.sweeper.get("params") or {})
    saved = Path(hydra.sweep.dir) / "multirun.yaml"
    if saved.is_file():
        task = OmegaConf.load(saved).hydra.overrides.task
        overrides = OverridesParser.create().parse_overrides(list(task))
        keys |= {o.key_or_group for o in overrides if o.is_sweep_override()}
    return {key.replace("/", ".") for key in keys}


def _value(cfg: DictConfig, key: str) -> bool | float | str | None:
    """The run's value of ``key`` as an HParams value, or None when it has none to show."""
    if key == "experiment":
        return _hydra_choice("experiment")
    if is_path_key(key):
        return None
    node = OmegaConf.select(cfg, key, default=None)
    if node is None and key in NET_DEFAULTS and "net" in cfg.get("model", {}):
        # null means the network's own default: show the value it was built with
        net = OmegaConf.to_container(cfg.model.net, resolve=True)
        return built_value(net, key.rsplit(".", 1)[-1])
    if key == "model.optimizer" and isinstance(node, DictConfig):
        target = node.get("_target_")
        return str(target).rsplit(".", 1)[-1] if target else None
    if isinstance(node, DictConfig) or node is None:
        return None
    if OmegaConf.is_list(node):
        return ",".join(str(v) for v in OmegaConf.to_container(node, resolve=True))
    if isinstance(node, str) and _looks_like_path(node):
        return None
    return node if isinstance(node, bool | int | float | str) else str(node)


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", "~", "./", "../")) or Path(value).is_absolute()


def _hydra_choice(group: str) -> str | None:
    if not HydraConfig.initialized():
        return None
    choice = HydraConfig.get().runtime.choices.get(group)
    return None if choice in (None, "null") else str(choice)


def _overridden_keys() -> Iterable[tuple[str, str | None]]:
    """``(dotted key, value if it names a config group option)`` for each override of this run
    (Hydra's task overrides; none outside Hydra), without deletions, plumbing, paths and
    Hydra's ``_target_``/``_partial_``."""
    if not HydraConfig.initialized():
        return
    for override in OverridesParser.create().parse_overrides(
        list(HydraConfig.get().overrides.task)
    ):
        key = override.key_or_group.replace("/", ".")
        parts = key.split(".")
        if (
            override.is_delete()
            or key in PLUMBING
            or is_path_key(key)
            or {"_target_", "_partial_"} & set(parts)
        ):
            continue
        value = override.value()
        yield key, value if isinstance(value, str) and not _looks_like_path(value) else None


def _data_type(value: Any) -> int:
    """The column's type (unset for a column this run has no value in). No domain: a domain
    holds the values the filters offer, and one run knows only its own (a sweep's other jobs
    would be filtered out)."""
    if value is None:
        return api_pb2.DATA_TYPE_UNSET
    if isinstance(value, bool):
        return api_pb2.DATA_TYPE_BOOL
    if isinstance(value, int | float):
        return api_pb2.DATA_TYPE_FLOAT64
    return api_pb2.DATA_TYPE_STRING
