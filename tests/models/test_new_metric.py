"""README, Extending, "a new metric": one entry in metrics.METRICS. This test adds macro-F1 as
that entry (``stage_metrics`` with a torchmetrics factory) and trains two steps: the module
computes and logs it in every stage, a checkpoint may monitor it, and the run's Custom Scalars
page charts it."""

from __future__ import annotations

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.custom_scalar import metadata as custom_scalars_metadata
from torchmetrics.classification import MulticlassF1Score

from alexnet_lightning import metrics
from alexnet_lightning.config_checks import check_config
from alexnet_lightning.entry.train import train
from alexnet_lightning.errors import ConfigError
from tests.conftest import TINY_DATA, compose_config


def macro_f1(num_classes: int) -> MulticlassF1Score:
    return MulticlassF1Score(num_classes, average="macro")


# the recipe's one entry, as it would stand in metrics.METRICS
NEW_ENTRY = metrics.stage_metrics("f1_macro", macro_f1, chart="Accuracy")

RUN = [
    *TINY_DATA,
    "model.net.variant=cifar",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.log_every_n_steps=1",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "logger=tensorboard",
    "callbacks=[model_checkpoint]",
    "callbacks.model_checkpoint.monitor=val/f1_macro",
    "trainer.enable_progress_bar=false",
    "seed=0",
]


def test_a_metric_is_refused_until_declared(tmp_path):
    with pytest.raises(ConfigError, match=r"^callbacks.model_checkpoint.monitor='val/f1_macro'"):
        check_config(compose_config("train", RUN, tmp_path))


def test_a_metric_declared_in_one_entry_is_logged_monitored_and_charted(monkeypatch, tmp_path):
    monkeypatch.setattr(metrics, "METRICS", (*metrics.METRICS, *NEW_ENTRY))
    cfg = compose_config("train", RUN, tmp_path)
    check_config(cfg)
    results = train(cfg)
    for stage in ("train", "val", "test"):
        assert 0.0 <= results[f"{stage}/f1_macro"] <= 1.0
    (logdir,) = (tmp_path / "run" / "tensorboard").iterdir()  # the run's own TensorBoard run
    acc = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    acc.Reload()
    assert {"train/f1_macro", "val/f1_macro", "test/f1_macro"} <= set(acc.Tags()["scalars"])
    (event,) = acc.Tensors(custom_scalars_metadata.CONFIG_SUMMARY_TAG)
    layout = layout_pb2.Layout.FromString(event.tensor_proto.string_val[0])
    charts = {chart.title: list(chart.multiline.tag) for c in layout.category for chart in c.chart}
    assert {"^train/f1_macro$", "^val/f1_macro$"} <= set(charts["Accuracy"])
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()  # chosen by val/f1_macro
