"""The run's TensorBoard HParams session: the hyperparameters a researcher compares, the metrics.

Each run writes an experiment summary (its hyperparameter and metric columns), a session start
(its values) and, when it ends, a session end (its status). TensorBoard serves the columns of
one run's experiment summary for every run under the logdir, and its parallel coordinates
leave out a run without a value in each shown column; so every run lists the same columns,
whatever its command line held (no checksums, URLs, paths, worker counts or debug limits), and
the metric columns are ones every training run logs (a run without a test split has no test/*).
A sweep's jobs add the keys the sweep varies, flagged to come first.
"""

from __future__ import annotations

import time
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2, summary_v2

from alexnet_lightning.metrics import ranked
from alexnet_lightning.models.net import built_value
from alexnet_lightning.sweeps.jobs import TRIAL_KEY
from alexnet_lightning.utils.run_names import swept_keys

# The columns of every run, named as the user types them: `key.path` for a value,
# `group/name` (and `data`, `experiment`) for a config group's chosen option.
CURATED = (
    "experiment",
    "data",
    "data.batch_size",
    "data.image_size",
    "data.hflip",
    "data.train_crop",
    "data.lighting_std",
    "model.net.variant",
    "model.net.activation",
    "model.net.lrn",
    "model.net.pool",
    "model.net.groups",
    "model.net.dropout",
    "model/optimizer",
    "model.optimizer.lr",
    "model.optimizer.weight_decay",
    "model/scheduler",
    "trainer.max_epochs",
    "seed",
    "tags",
)
# Flagged first in a run outside a sweep: TensorBoard shows the first five columns (its order:
# flagged ones first, then by name) until others are ticked.
HEADLINE = ("experiment", "data", "model.net.variant", "model.optimizer.lr", "seed")
# Switches whose null means "the network's default": shown as the value it builds.
NET_DEFAULTS = ("model.net.dropout", "model.net.lrn")
# The value of a column this run has nothing for (a network without these switches).
NONE = "none"
# Swept keys that are sweeper plumbing, not a choice of the run.
PLUMBING = (TRIAL_KEY, "hparams_search")
# How a session ended, as TensorBoard's HParams records it.
STATUS = {
    "success": api_pb2.STATUS_SUCCESS,
    "failure": api_pb2.STATUS_FAILURE,
}

HParam = bool | float | int | str


def metric_columns() -> tuple[str, ...]:
    """The HParams table's metric columns, in order (TensorBoard shows the first five): the
    metrics.METRICS entries with an ``hparams`` place, logged by every training run, with or
    without a test split."""
    return ranked("hparams")


def hparams_summaries(cfg: DictConfig, trial_id: str) -> list[Summary]:
    """The experiment summary (columns) and the session-start summary (values) of this run;
    ``trial_id`` names its row."""
    values, first = curated_hparams(cfg)
    # in the order TensorBoard shows them (flagged first, then by name), so the file reads
    # as the table does
    names = sorted(values, key=lambda name: (name not in first, name))
    experiment = api_pb2.Experiment(
        hparam_infos=[
            api_pb2.HParamInfo(name=name, type=_data_type(values[name]), differs=name in first)
            for name in names
        ],
        metric_infos=[summary_v2.Metric(tag).as_proto() for tag in metric_columns()],
    )
    columns = _summary(
        metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment)
    )
    start = summary_v2.hparams_pb({name: values[name] for name in names}, trial_id=trial_id)
    return [columns, start]


def session_end_summary(status: str) -> Summary:
    """The session-end summary: ``status`` is ``success`` or ``failure``. (summary_v2 writes a
    session's end only through its Keras callback, and the v1 writer needs TensorFlow.)"""
    end = plugin_data_pb2.SessionEndInfo(status=STATUS[status], end_time_secs=time.time())
    return _summary(
        metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end)
    )


def _summary(tag: str, data: plugin_data_pb2.HParamsPluginData) -> Summary:
    """A summary of the HParams plugin's data alone, as its own writers make them."""
    return Summary(
        value=[
            Summary.Value(
                tag=tag,
                metadata=metadata.create_summary_metadata(data),
                tensor=metadata.NULL_TENSOR,
            )
        ]
    )


def curated_hparams(cfg: DictConfig) -> tuple[dict[str, HParam], set[str]]:
    """``({name: value}, names flagged first)``: every CURATED key (``none`` where the run has
    no value) and, in a sweep's job, each key the sweep varies, flagged. Outside a sweep the
    HEADLINE keys are flagged."""
    values = {key: _value(cfg, key) for key in CURATED}
    swept = [key for key in swept_keys() if key.replace("/", ".") not in PLUMBING]
    for key in swept:
        values[key] = _value(cfg, key)
    return values, set(swept) if swept else set(HEADLINE)


def _value(cfg: DictConfig, key: str) -> HParam:
    """The run's value of ``key``: a config group's choice, the value the network is built
    with for a null switch, a list as one string; ``none`` for nothing."""
    choice = _hydra_choice(key)
    if choice is not None:
        return choice
    if "/" in key or key in ("data", "experiment"):  # a group, outside Hydra: its class
        target = OmegaConf.select(cfg, f"{key.replace('/', '.')}._target_", default=None)
        return str(target).rsplit(".", 1)[-1] if target else NONE
    node = OmegaConf.select(cfg, key, default=None)
    if node is None and key in NET_DEFAULTS and "net" in cfg.get("model", {}):
        # null means the network's own default: show the value it was built with
        net = OmegaConf.to_container(cfg.model.net, resolve=True)
        built = built_value(net, key.rsplit(".", 1)[-1])
        return NONE if built is None else built
    if OmegaConf.is_list(node):
        return ",".join(str(v) for v in OmegaConf.to_container(node, resolve=True))
    if node is None or isinstance(node, DictConfig):
        return NONE
    return node if isinstance(node, bool | int | float | str) else str(node)


def _hydra_choice(key: str) -> str | None:
    """The option chosen for config group ``key`` (``none`` for an unset one); None when
    ``key`` is no group of this run's or Hydra did not compose it."""
    if not HydraConfig.initialized():
        return None
    choices = HydraConfig.get().runtime.choices
    if key not in choices:
        return None
    choice = choices.get(key)
    return NONE if choice in (None, "null") else str(choice)


def _data_type(value: Any) -> int:
    """The column's type. No domain: a domain holds the values the filters offer, and one run
    knows only its own (a sweep's other jobs would be filtered out)."""
    if isinstance(value, bool):
        return api_pb2.DATA_TYPE_BOOL
    if isinstance(value, int | float):
        return api_pb2.DATA_TYPE_FLOAT64
    return api_pb2.DATA_TYPE_STRING
