"""The curated HParams columns of a run, from its composed config, and how its session ends."""

import pytest
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata

from alexnet_lightning.utils.hparams_session import (
    CURATED,
    HEADLINE,
    curated_hparams,
    hparams_summaries,
)
from alexnet_lightning.utils.run_files import hparams_session_end
from tests.conftest import HPARAMS_METRICS, compose_config


def test_curated_hparams_of_an_sgd_imagefolder_run(tmp_path):
    cfg = compose_config(
        "train",
        [
            "data=imagefolder",
            "data.root=/data/flowers",
            "data.num_classes=3",
            "data.num_workers=3",
            "model/optimizer=sgd",
            "trainer.limit_train_batches=2",
        ],
        tmp_path,
    )
    values, first = curated_hparams(cfg)
    assert set(values) == set(CURATED)  # whatever the command line held
    # outside Hydra's run (no choices recorded) a group shows its class
    assert values["model/optimizer"] == "SGD" and values["experiment"] == "none"
    assert values["seed"] == 42 and isinstance(values["data.batch_size"], int)
    assert values["tags"] == "dev" and values["data.train_crop"] == "random_resized"
    assert values["model.net.lrn"] is False and values["model.net.dropout"] == 0.5  # as built
    assert first == set(HEADLINE)
    assert "/data/flowers" not in values.values()

    columns, session = hparams_summaries(cfg, trial_id="2026-01-01_00-00-00")
    experiment = hparams_metadata.parse_experiment_plugin_data(
        columns.value[0].metadata.plugin_data.content
    )
    assert [m.name.tag for m in experiment.metric_infos] == list(HPARAMS_METRICS)
    names = [h.name for h in experiment.hparam_infos]
    assert names == sorted(HEADLINE) + sorted(set(CURATED) - set(HEADLINE))  # TensorBoard's
    types = {h.name: h.type for h in experiment.hparam_infos}
    assert types["model.optimizer.lr"] == api_pb2.DATA_TYPE_FLOAT64
    assert types["model.net.variant"] == api_pb2.DATA_TYPE_STRING
    assert not [h for h in experiment.hparam_infos if h.HasField("domain_discrete")]
    start = hparams_metadata.parse_session_start_info_plugin_data(
        session.value[0].metadata.plugin_data.content
    )
    assert start.group_name == "2026-01-01_00-00-00"  # one HParams row per run
    assert set(start.hparams) == set(values)


def _end_status(logdir) -> int | None:
    acc = EventAccumulator(str(logdir))
    acc.Reload()
    try:
        content = acc.PluginTagToContent(hparams_metadata.PLUGIN_NAME)
    except KeyError:  # nothing of the HParams plugin's in the folder
        return None
    end = content[hparams_metadata.SESSION_END_INFO_TAG]
    return hparams_metadata.parse_session_end_info_plugin_data(end).status


def test_a_failed_run_ends_its_session_as_failed_a_signalled_one_not_at_all(tmp_path):
    failed = TensorBoardLogger(tmp_path, name="failed", version="")
    with pytest.raises(RuntimeError), hparams_session_end([failed], resumable_exit=143):
        raise RuntimeError("the loss is nan")
    assert _end_status(failed.log_dir) == api_pb2.STATUS_FAILURE

    # stopped by SIGTERM after saving last.ckpt: resumed into this folder later, and
    # TensorBoard keeps the first end it reads, so this one writes none
    stopped = TensorBoardLogger(tmp_path, name="stopped", version="")
    stopped.experiment.add_scalar("x", 1.0)
    with pytest.raises(SystemExit), hparams_session_end([stopped], resumable_exit=143):
        raise SystemExit(143)
    stopped.experiment.flush()
    assert _end_status(stopped.log_dir) is None
