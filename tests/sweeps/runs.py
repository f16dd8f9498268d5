"""Running `scripts/train.py -m` as a user does, and reading what a sweep leaves: its
summary, its Optuna study, and what TensorBoard shows of its jobs."""

from __future__ import annotations

import contextlib
import csv
import json
import subprocess
import sys
from pathlib import Path

import optuna
from tensorboard.backend.event_processing.data_provider import MultiplexerDataProvider
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
from tensorboard.context import RequestContext
from tensorboard.plugins import base_plugin
from tensorboard.plugins.custom_scalar.custom_scalars_plugin import CustomScalarsPlugin
from tensorboard.plugins.hparams import backend_context
from tensorboard.plugins.hparams import metadata as hparams_metadata

from tests.conftest import ROOT, TINY_SHAPES

# A few batches per job, no progress bar: seconds per job on a 2-core CPU.
FAST = [
    *TINY_SHAPES,
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "callbacks.rich_progress_bar=null",
    "callbacks.rich_model_summary=null",
]


OPTUNA = ["hparams_search=alexnet_optuna", *FAST, "test=false"]


def sweep_command(tmp: Path, *overrides: str) -> list[str]:
    """`python scripts/train.py -m ...` as a user types it, with every output under tmp."""
    return [
        sys.executable,
        str(ROOT / "scripts" / "train.py"),
        "-m",
        f"paths.data_dir={tmp / 'data'}",
        f"paths.log_dir={tmp / 'logs'}",
        *overrides,
    ]


def run_sweep(tmp: Path, *overrides: str) -> subprocess.CompletedProcess:
    command = sweep_command(tmp, *overrides)
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp)


def read_summary(sweep: Path) -> list[dict]:
    with open(sweep / "summary.csv") as file:
        return list(csv.DictReader(file))


def job_folders(sweep: Path) -> list[str]:
    return sorted((p.name for p in sweep.iterdir() if p.name.isdigit()), key=int)


def load_study(sweep: Path) -> optuna.Study:
    return optuna.load_study(study_name="alexnet", storage=f"sqlite:///{sweep / 'optuna.db'}")


def optuna_sweep_dir(tmp: Path) -> Path:
    return tmp / "logs" / "train" / "multiruns" / "optuna_alexnet"


def hparams_session(job: Path) -> tuple[dict, list[str], set[str]]:
    """A job's TensorBoard HParams session (its params), the columns of its experiment summary
    and its scalar tags."""
    params, columns, scalars = {}, [], set()
    for events in (job / "tensorboard").rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        scalars |= set(acc.Tags()["scalars"])
        with contextlib.suppress(KeyError):
            content = acc.PluginTagToContent("hparams")
            info = hparams_metadata.parse_session_start_info_plugin_data(
                content[hparams_metadata.SESSION_START_INFO_TAG]
            )
            params = dict(info.hparams)
            experiment = hparams_metadata.parse_experiment_plugin_data(
                content[hparams_metadata.EXPERIMENT_TAG]
            )
            columns = [h.name for h in experiment.hparam_infos]
    assert params, f"no HParams session in {job}"
    return params, columns, scalars


def tensorboard_context(logdir: Path) -> base_plugin.TBContext:
    mux = EventMultiplexer()
    mux.AddRunsFromDirectory(str(logdir))
    mux.Reload()
    provider = MultiplexerDataProvider(mux, str(logdir))
    return base_plugin.TBContext(logdir=str(logdir), multiplexer=mux, data_provider=provider)


def tensorboard_hparams_table(logdir: Path) -> tuple[list[str], list[str], list[str], set[str]]:
    """What TensorBoard's HParams tab shows when opened at logdir, computed by TensorBoard's own
    hparams backend: its sessions (runs), hparam columns (in its order), metric columns and the
    columns it lists first (``differs``)."""
    backend = backend_context.Context(tensorboard_context(logdir))
    request = RequestContext()
    metadata = backend.hparams_metadata(request, "")
    experiment = backend.experiment_from_metadata(request, "", True, metadata, [])
    sessions = sorted(
        r for r, tags in metadata.items() if hparams_metadata.SESSION_START_INFO_TAG in tags
    )
    return (
        sessions,
        [h.name for h in experiment.hparam_infos],
        [m.name.tag for m in experiment.metric_infos],
        {h.name for h in experiment.hparam_infos if h.differs},
    )


def tensorboard_custom_scalars(logdir: Path) -> list[tuple[str, list[str]]]:
    """The Custom Scalars page TensorBoard builds at logdir from every run's layout (merged by
    its own plugin): (chart title, tag regexes) for each chart, in its order."""
    context = tensorboard_context(logdir)
    context.plugin_name_to_instance = {}
    layout = json.loads(CustomScalarsPlugin(context).layout_impl(RequestContext(), ""))
    return [
        (chart["title"], chart["multiline"]["tag"])
        for category in layout["category"]
        for chart in category["chart"]
    ]
