"""Runs served together in TensorBoard: HParams columns, session ends, run names, the console.

Three command lines as a researcher types them, into one logs/: an ``experiment=cifar10`` run
with a checksum override and debug limits, a built-in-dataset run without a test split, and a
two-job lr sweep. What TensorBoard shows of them is read back with its own event reader.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import hydra
import pytest
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata

from alexnet_lightning.dataset_tools.synthetic_cifar10 import write_cifar10_archive
from alexnet_lightning.entry.cli import optimized_value, run_task
from alexnet_lightning.utils.hparams_session import HEADLINE
from tests.conftest import HPARAMS_METRICS, ROOT, TINY_SHAPES

pytestmark = pytest.mark.slow

# One short epoch and no pictures: the runs are here for what they write about themselves.
QUICK = [
    "trainer.max_epochs=1",
    "callbacks.rich_progress_bar=null",
    "callbacks.rich_model_summary=null",
    "callbacks.tensorboard_images=null",
    "callbacks.confusion_matrix=null",
    "callbacks.kernels=null",
]
DEBUG_LIMITS = [
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.log_every_n_steps=1",
]
SWEPT = "model.optimizer.lr"
STAMP = re.compile(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d")


@contextlib.contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved
        # Hydra leaves its config behind; later in-process code must not read this run's
        HydraConfig.instance().cfg = None


@hydra.main(version_base="1.3", config_path=str(ROOT / "conf"), config_name="train")
def _train_main(cfg: DictConfig) -> float | None:  # scripts/train.py's main
    return optimized_value(run_task("alexnet_lightning.entry.train:train", cfg), cfg)


def train_in_process(logs: Path, *overrides: str, multirun: bool = False) -> None:
    """``python scripts/train.py [-m] ...`` in this process (the imports are paid once)."""
    argv = ["train.py", *(["-m"] if multirun else [])]
    argv += [f"paths.data_dir={logs.parent / 'data'}", f"paths.log_dir={logs}"]
    with _argv([*argv, *overrides]):
        _train_main()


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("served")
    logs = tmp / "logs"
    (tmp / "data").mkdir()
    md5 = write_cifar10_archive(tmp / "data" / "cifar-10-python.tar.gz", per_batch=8, test=8)
    train_in_process(
        logs,
        "experiment=cifar10",
        f"data.md5={md5}",  # a checksum on the command line: no HParams column
        "data.val_size=8",
        "data.batch_size=8",
        "data.num_workers=0",
        "model.net.init_weights=false",
        *QUICK,
        *DEBUG_LIMITS,
    )
    # the run without a test split: a user's command line, its console kept
    console = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "train.py"),
            f"paths.data_dir={tmp / 'data'}",
            f"paths.log_dir={logs}",
            *TINY_SHAPES,
            *QUICK,
            "test=false",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp,
    )
    assert console.returncode == 0, console.stderr[-3000:]
    sweep = [*TINY_SHAPES, *QUICK, *DEBUG_LIMITS, f"{SWEPT}=0.01,0.02"]
    train_in_process(logs, *sweep, multirun=True)
    return {"logs": logs, "console": console}


def served(logs: Path) -> dict[str, dict[str, bytes]]:
    """``tensorboard --logdir logs``'s HParams summaries: run name -> tag -> plugin content."""
    mux = EventMultiplexer()
    mux.AddRunsFromDirectory(str(logs))
    mux.Reload()
    return mux.PluginRunToTagToContent(hparams_metadata.PLUGIN_NAME)


def columns(content: dict[str, bytes]) -> list[str]:
    experiment = hparams_metadata.parse_experiment_plugin_data(
        content[hparams_metadata.EXPERIMENT_TAG]
    )
    return [info.name for info in experiment.hparam_infos]


def session(content: dict[str, bytes]):
    return hparams_metadata.parse_session_start_info_plugin_data(
        content[hparams_metadata.SESSION_START_INFO_TAG]
    )


def test_every_session_has_the_same_columns_the_swept_key_first(logs):
    runs = served(logs["logs"])
    assert len(runs) == 4, sorted(runs)
    singles = [run for run in runs if run.startswith("train/runs/")]
    jobs = sorted(run for run in runs if run.startswith("train/multiruns/"))
    assert len(singles) == 2 and len(jobs) == 2
    orders = {run: columns(runs[run]) for run in runs}
    every = set(orders[jobs[0]])
    for run in runs:  # the same set everywhere, and each session holds a value for each
        assert set(orders[run]) == every, run
        assert set(session(runs[run]).hparams) == every, run
    # outside a sweep the same order whatever the command line held; in the sweep the swept
    # key first, then the rest by name (TensorBoard's order)
    assert orders[singles[0]] == orders[singles[1]]
    assert orders[singles[0]][:5] == sorted(HEADLINE)
    assert orders[jobs[0]] == orders[jobs[1]]
    assert orders[jobs[0]] == [SWEPT, *sorted(every - {SWEPT})]
    assert {"experiment", "data", "model/optimizer", "model.net.dropout", "seed"} <= every
    for name in every:  # nothing of the command line's plumbing
        assert not re.search(r"md5|url|root|_dir|path|num_workers|limit_|log_every", name), name


def test_session_values_are_typed_and_the_networks_as_built(logs):
    runs = served(logs["logs"])
    by_experiment = {
        session(content).hparams["experiment"].string_value: session(content).hparams
        for run, content in runs.items()
        if run.startswith("train/runs/")
    }
    cifar, shapes = by_experiment["cifar10"], by_experiment["none"]
    assert cifar["data"].string_value == "cifar10" and shapes["data"].string_value == "shapes"
    assert cifar["model/optimizer"].string_value == "sgd"
    assert (
        shapes["data.batch_size"].number_value == 8 and cifar["data.batch_size"].number_value == 8
    )
    assert shapes["seed"].number_value == 42
    assert shapes["model.net.dropout"].number_value == 0.0  # null: the cifar net's own
    assert shapes["model.net.lrn"].bool_value is False
    experiment = hparams_metadata.parse_experiment_plugin_data(
        next(iter(runs.values()))[hparams_metadata.EXPERIMENT_TAG]
    )
    types = {info.name: info.type for info in experiment.hparam_infos}
    assert types["data.batch_size"] == api_pb2.DATA_TYPE_FLOAT64  # HParams' one number type
    assert types["model.net.lrn"] == api_pb2.DATA_TYPE_BOOL
    assert [m.name.tag for m in experiment.metric_infos] == list(HPARAMS_METRICS)


def test_every_run_logs_every_metric_column(logs):
    """Parallel coordinates leaves out a run without a value in a shown column."""
    mux = EventMultiplexer()
    mux.AddRunsFromDirectory(str(logs["logs"]))
    mux.Reload()
    for run, tags in mux.Runs().items():  # the server's reader holds scalars as tensors
        assert set(HPARAMS_METRICS) <= set(tags["tensors"]), run


def test_each_session_ends_with_its_status(logs):
    for run, content in served(logs["logs"]).items():
        end = hparams_metadata.parse_session_end_info_plugin_data(
            content[hparams_metadata.SESSION_END_INFO_TAG]
        )
        assert end.status == api_pb2.STATUS_SUCCESS and end.end_time_secs > 0, run


def test_run_names_carry_the_stamp_or_the_jobs_overrides(logs):
    runs = served(logs["logs"])
    for run, content in runs.items():
        if run.startswith("train/runs/"):
            stamp = run.split("/")[2]
            assert STAMP.fullmatch(stamp) and run == f"train/runs/{stamp}/tensorboard/{stamp}"
            # the HParams row's trial id, the time first: the table shows ~15 characters
            day, time = stamp.split("_")
            assert session(content).group_name == f"{time} {day}"
    jobs = sorted(run for run in runs if run.startswith("train/multiruns/"))
    names = [run.rsplit("/", 1)[1] for run in jobs]
    assert names == ["lr=0.01", "lr=0.02"]
    for run, name in zip(jobs, names, strict=True):
        _, _, sweep, job, _, _ = run.split("/")
        assert session(runs[run]).group_name == f"{name} [{sweep}/{job}]"
    # the run folder layout stays: checkpoints and metrics.json beside tensorboard/
    for run in runs:
        folder = logs["logs"] / Path(run).parent.parent
        assert (folder / "metrics.json").is_file() and (folder / "checkpoints/last.ckpt").is_file()


def test_the_console_holds_each_lightning_message_once(logs):
    console = logs["console"]
    both = console.stdout + console.stderr
    assert "INFO: " not in both  # Lightning's own handler no longer prints beside Hydra's
    lightning = [
        line.split("] - ", 1)[1]
        for line in console.stdout.splitlines()
        if re.match(r"\[[^]]+\]\[lightning\.", line)
    ]
    assert any("GPU available" in line for line in lightning), console.stdout[-2000:]
    assert [line for line, n in Counter(lightning).items() if n > 1] == []
    (folder,) = [
        run
        for run in (logs["logs"] / "train" / "runs").iterdir()
        if "test=false" in (run / ".hydra" / "overrides.yaml").read_text()
    ]
    log = (folder / "train.log").read_text()
    for line in lightning:
        assert log.count(line) == 1, line
