"""Progress without a terminal: one line per epoch in train.log and on stdout; no known noise."""

import re
import sys

import pytest
from lightning.pytorch.callbacks import RichProgressBar

from alexnet_lightning.callbacks.epoch_log import EpochLog, duration, progress_display
from tests.conftest import TINY_SHAPES
from tests.runs import only_run_folder, run_script

LINE = re.compile(
    r"epoch (\d+)/3  step (\d+)  train/loss \d\.\d{4}  val/loss \d\.\d{4}  val/acc \d\.\d{4}  "
    r"images/s \d+  elapsed \d+s  ETA \d+s$"
)
# what our dependencies print that a user of this project has no use for (log_noise.py)
NOISE = ("litlogger", "litmodels", "LeafSpec", "The `srun` command is available")


@pytest.mark.slow
def test_a_run_without_a_terminal_logs_one_line_per_epoch_and_no_known_noise(tmp_path):
    result = run_script(
        "train.py",
        *TINY_SHAPES,
        "trainer.max_epochs=3",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "test=false",
        "callbacks.rich_model_summary=null",
        tmp=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = (only_run_folder(tmp_path, "train") / "train.log").read_text()
    for text in (log, result.stdout):
        lines = [m.groups() for m in map(LINE.search, text.splitlines()) if m]
        assert lines == [("1", "2"), ("2", "4"), ("3", "6")], text[-2000:]
    for noise in NOISE:
        assert noise not in log + result.stdout + result.stderr, noise
    assert "Epoch 0/2" not in result.stdout + result.stderr  # no progress bar drawn


def test_the_rich_bar_on_a_terminal_the_epoch_log_without(monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    bar = progress_display(refresh_rate=3)
    assert isinstance(bar, RichProgressBar) and bar.refresh_rate == 3
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert isinstance(progress_display(), EpochLog)


def test_durations_read_as_a_person_would_write_them():
    assert [duration(s) for s in (4.4, 59.6, 185, 7620)] == ["4s", "1m00s", "3m05s", "2h07m"]
