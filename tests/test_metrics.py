"""The metrics table (metrics.METRICS): what reads it, and the checks a watched metric gets."""

import pytest

from alexnet_lightning import metrics
from alexnet_lightning.config_checks import check_config
from alexnet_lightning.errors import ConfigError
from alexnet_lightning.utils.hparams_session import metric_columns
from tests.conftest import HPARAMS_METRICS, compose_config


def test_the_table_gives_each_reader_its_tags_in_order():
    assert metrics.watchable()[:4] == ("train/loss", "val/loss", "train/acc", "val/acc")
    assert set(metrics.results()) - set(metrics.watchable()) == {
        "test/loss",
        "test/acc",
        "test/acc_top5",
    }
    assert metric_columns() == HPARAMS_METRICS
    assert metrics.ranked("epoch_line") == ("train/loss", "val/loss", "val/acc")
    assert metrics.tags(report=True) == ("val/acc_best", "test/acc")
    assert set(metrics.computed("val")) == {"acc", "acc_top5"}
    layout = metrics.scalar_layout()["Training"]
    assert list(layout) == list(metrics.CHARTS)
    assert layout["Loss"] == ["Multiline", ["^train/loss$", "^val/loss$"]]
    assert layout["Learning rate"] == ["Multiline", [r"^train/lr(/.+)?$"]]
    for spec in metrics.METRICS:
        assert spec.mode in ("max", "min", None) and spec.chart in (None, *metrics.CHARTS)


def test_importing_the_table_loads_no_torch():
    import subprocess
    import sys

    code = "import sys, alexnet_lightning.metrics; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("overrides", "message", "fix"),
    [
        (
            ["callbacks.model_checkpoint.monitor=val/loss"],
            "callbacks.model_checkpoint.mode=max is invalid: val/loss is better when lower; "
            "set callbacks.model_checkpoint.mode=min (or callbacks.model_checkpoint.monitor",
            "callbacks.model_checkpoint.mode=min",
        ),
        (
            ["model/scheduler=plateau", "model.monitor=train/loss"],
            "model.scheduler.mode=max is invalid: train/loss is better when lower; set "
            "model.scheduler.mode=min",
            "model.scheduler.mode=min",
        ),
    ],
)
def test_a_watcher_whose_mode_disagrees_with_its_metric_stops_in_one_line(
    overrides, message, fix, tmp_path
):
    with pytest.raises(ConfigError) as raised:
        check_config(compose_config("train", overrides, tmp_path))
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    check_config(compose_config("train", [*overrides, fix], tmp_path))  # the fix it names
