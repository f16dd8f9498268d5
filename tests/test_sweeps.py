"""Sweeps through scripts/train.py -m: grid, Optuna (resume, failures, pruning), launchers, report.

Every job trains on the tiny shapes set for a few batches; what is checked is the sweep
machinery: folders, study states, the report, and that the same command resumes a study.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from tensorboard.backend.event_processing.data_provider import MultiplexerDataProvider
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
from tensorboard.context import RequestContext
from tensorboard.plugins import base_plugin
from tensorboard.plugins.custom_scalar.custom_scalars_plugin import CustomScalarsPlugin
from tensorboard.plugins.hparams import backend_context
from tensorboard.plugins.hparams import metadata as hparams_metadata

from alexnet_lightning.sweeps.jobs import write_job_record
from alexnet_lightning.sweeps.summary import write_summary

from .conftest import ROOT, TINY_SHAPES

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
    for events in (job / "tensorboard").glob("events.out.tfevents.*"):
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


def test_grid_2x2_writes_four_run_folders_and_the_report(tmp_path):
    result = run_sweep(
        tmp_path,
        *FAST,
        "model.optimizer.lr=0.001,0.0003",
        "data.batch_size=4,8",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert job_folders(sweep) == ["0", "1", "2", "3"]
    rows = read_summary(sweep)
    assert [r["job"] for r in rows] == ["0", "1", "2", "3"]
    combos, columns_of_jobs = set(), []
    for row in rows:
        job = sweep / row["job"]
        assert (job / "metrics.json").is_file() and (job / "checkpoints" / "last.ckpt").is_file()
        assert row["state"] == "complete" and row["epochs"] == "1"
        assert row["optimized_metric"] == row["val/acc_best"] and row["test/acc"] != ""
        assert Path(row["best_ckpt"]).is_file() and float(row["wall_s"]) > 0
        values = dict(o.split("=", 1) for o in row["overrides"].split())
        combos.add((values["model.optimizer.lr"], values["data.batch_size"]))
        # TensorBoard's HParams tab at the sweep folder: this job's params beside its metrics
        params, columns, scalars = hparams_session(job)
        assert params["model/optimizer/lr"].number_value == float(values["model.optimizer.lr"])
        assert params["data/batch_size"].number_value == float(values["data.batch_size"])
        assert {"val/acc_best", "test/acc"} <= scalars
        columns_of_jobs.append(columns)
    assert combos == {(lr, bs) for lr in ("0.001", "0.0003") for bs in ("4", "8")}
    # every job names the same columns, so whichever TensorBoard reads fits them all
    assert all(columns == columns_of_jobs[0] for columns in columns_of_jobs)
    # `tensorboard --logdir <sweep>`: one HParams row per job, swept params first, the metrics
    sessions, params, metrics, first = tensorboard_hparams_table(sweep)
    assert sessions == [f"{job}/tensorboard" for job in ("0", "1", "2", "3")]
    assert {"model/optimizer/lr", "data/batch_size"} <= first
    assert params.index("model/optimizer/lr") < 5 and params.index("data/batch_size") < 5
    assert metrics == ["val/acc_best", "val/acc", "val/loss", "test/acc", "test/loss"]
    assert not [p for p in params if "_target_" in p or p.startswith("paths/")]
    # its Custom Scalars page: one Loss chart (train and val) for all four jobs
    charts = tensorboard_custom_scalars(sweep)
    assert [title for title, _ in charts].count("Loss") == 1  # 4 jobs' layouts, merged
    assert dict(charts)["Loss"] == ["^train/loss$", "^val/loss$"]
    assert len(charts) == 5
    report = (sweep / "summary.md").read_text()
    best = max(rows, key=lambda r: float(r["optimized_metric"]))
    assert f"## Best: job {best['job']}" in report
    assert f"python scripts/train.py {best['overrides']}" in report
    for plot in ("model.optimizer.lr.png", "data.batch_size.png"):
        assert (sweep / "plots" / plot).stat().st_size > 1000

    # make sweep-report rebuilds the same report from the folder alone
    csv_before = (sweep / "summary.csv").read_text()
    for path in (sweep / "summary.csv", sweep / "summary.md", *(sweep / "plots").iterdir()):
        path.unlink()
    rebuilt = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sweep_report.py"), str(sweep)],
        capture_output=True,
        text=True,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert (sweep / "summary.csv").read_text() == csv_before
    assert (sweep / "summary.md").read_text() == report
    assert (sweep / "plots" / "data.batch_size.png").is_file()


def test_sweep_report_of_a_folder_that_is_no_sweep_says_so(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sweep_report.py"), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert f"{tmp_path} is not a sweep folder (no multirun.yaml)" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_report_lists_a_job_killed_before_hydra_wrote_its_overrides(tmp_path):
    """A sweep killed just after Hydra made a job's .hydra folder (config.yaml written,
    hydra.yaml empty, no overrides.yaml yet): the resumed sweep's report still lists every job."""
    done, killed = tmp_path / "0", tmp_path / "1"
    for job in (done, killed):
        (job / ".hydra").mkdir(parents=True)
    (done / ".hydra" / "overrides.yaml").write_text("- model.optimizer.lr=0.01\n")
    (done / "metrics.json").write_text(json.dumps({"val/acc_best": 0.5}))
    write_job_record(done, state="complete", wall_s=1.0)
    (killed / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (killed / ".hydra" / "hydra.yaml").write_text("")
    write_job_record(killed, state="interrupted", trial=1)
    write_summary(tmp_path)
    rows = [(r["job"], r["overrides"], r["state"]) for r in read_summary(tmp_path)]
    assert rows == [("0", "model.optimizer.lr=0.01", "complete"), ("1", "", "interrupted")]


def test_grid_job_that_fails_leaves_the_others_running_and_is_reported(tmp_path):
    result = run_sweep(
        tmp_path,
        *FAST,
        "test=false",
        "model/optimizer=sgd",
        "model.scheduler=null",
        "model.optimizer.lr=1e12,0.001",  # the first job's loss diverges (TrainingDiverged)
    )
    assert result.returncode == 1
    assert "1 of 2 jobs failed (jobs 0)" in result.stderr
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert [r["state"] for r in read_summary(sweep)] == ["failed", "complete"]
    assert "| 0 | failed |" in (sweep / "summary.md").read_text()


def test_optuna_sweep_of_three_trials_names_the_best(tmp_path):
    started = time.perf_counter()
    result = run_sweep(tmp_path, *OPTUNA, "hydra.sweeper.n_trials=3")
    wall = time.perf_counter() - started
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = optuna_sweep_dir(tmp_path)
    study = load_study(sweep)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert job_folders(sweep) == ["0", "1", "2"]
    rows = read_summary(sweep)
    for row, trial in zip(rows, study.trials, strict=True):
        assert row["state"] == "complete"
        assert float(row["optimized_metric"]) == pytest.approx(trial.value)
        assert f"model.optimizer.lr={trial.params['model.optimizer.lr']!r}" in row["overrides"]
        assert "optuna_trial" not in row["overrides"]  # sweeper plumbing stays out
        params, columns, _ = hparams_session(sweep / row["job"])
        assert (
            params["model/optimizer"].string_value
            == {"adamw": "AdamW", "sgd": "SGD"}[trial.params["model/optimizer"]]
        )
        assert "optuna_trial" not in params and "hparams_search" not in params
        # the swept optimizer group: SGD's momentum is a column of AdamW's jobs too
        assert "model/optimizer/momentum" in columns
        assert ("model/optimizer/momentum" in params) == (
            params["model/optimizer"].string_value == "SGD"
        )
    report = (sweep / "summary.md").read_text()
    (best_line,) = [line for line in report.splitlines() if line.startswith("## Best: job ")]
    best_job = int(best_line.removeprefix("## Best: job ").split(",")[0])
    assert study.trials[best_job].value == study.best_value  # ties: any of the best
    # the best config as a single run: the search config itself left out
    single = [
        o for o in rows[best_job]["overrides"].split() if o != "hparams_search=alexnet_optuna"
    ]
    assert f"python scripts/train.py {' '.join(single)}\n" in report
    assert (sweep / "plots" / "history.png").is_file()
    assert (sweep / "plots" / "model.optimizer.lr.png").is_file()
    print(f"3-trial Optuna sweep: {wall:.1f} s wall")  # the README's measured figure


def test_killed_optuna_sweep_resumes_without_repeating_trials(tmp_path):
    command = sweep_command(tmp_path, *OPTUNA, "hydra.sweeper.n_trials=3")
    sweep = optuna_sweep_dir(tmp_path)
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=log)
        # kill the sweep as soon as trial 0 is done (its job.json) and trial 1 has started
        deadline = time.monotonic() + 300
        while not (sweep / "1" / ".hydra").is_dir() and first.poll() is None:
            assert time.monotonic() < deadline, "trial 1 never started"
            time.sleep(0.2)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert (sweep / "0" / "job.json").is_file(), (tmp_path / "first.log").read_text()[-3000:]
    trial0_record = (sweep / "0" / "job.json").read_text()

    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    trials = load_study(sweep).trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    interrupted = [t for t in trials if t.user_attrs.get("interrupted")]
    assert len(complete) == 3  # n_trials in total, across both runs
    assert [t.number for t in interrupted] == [1]
    assert interrupted[0].state == optuna.trial.TrialState.FAIL
    # the interrupted trial is run again with its parameters; nothing else repeats
    retried = [t for t in complete if t.user_attrs.get("retry_of") == 1]
    assert len(retried) == 1 and retried[0].params == interrupted[0].params
    params = [tuple(sorted(t.params.items())) for t in complete]
    assert len(set(params)) == 3
    # trial 0 was not run again: its folder is untouched, and the new trials got new folders
    assert (sweep / "0" / "job.json").read_text() == trial0_record
    assert job_folders(sweep) == ["0", "1", "2", "3"]
    states = {r["job"]: r["state"] for r in read_summary(sweep)}
    assert states == {"0": "complete", "1": "interrupted", "2": "complete", "3": "complete"}


@pytest.fixture
def search_config_dir(tmp_path) -> Path:
    """A user's own search config: alexnet_optuna, starting from a diverging learning rate."""
    folder = tmp_path / "conf" / "hparams_search"
    folder.mkdir(parents=True)
    (folder / "bad_start.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n"
        "  - alexnet_optuna\n"
        "hydra:\n"
        "  sweeper:\n"
        "    enqueue_trials:\n"
        "      - {model/optimizer: sgd, model.optimizer.lr: 1.0e+12}\n"
    )
    return tmp_path / "conf"


def test_failing_trial_is_recorded_and_the_sweep_goes_on(tmp_path, search_config_dir):
    result = run_sweep(
        tmp_path,
        *OPTUNA,
        f"hydra.searchpath=[file://{search_config_dir}]",
        "hparams_search=bad_start",
        "model.scheduler=null",
        "hydra.sweeper.n_trials=2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = optuna_sweep_dir(tmp_path)
    states = [t.state for t in load_study(sweep).trials]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]
    rows = read_summary(sweep)
    assert [r["state"] for r in rows] == ["failed", "complete"]
    assert "model.optimizer.lr=1000000000000.0" in rows[0]["overrides"]
    assert "loss is" in result.stdout + result.stderr  # the job's own message, logged


def test_too_many_failures_stop_the_sweep_with_a_message(tmp_path, search_config_dir):
    result = run_sweep(
        tmp_path,
        *OPTUNA,
        f"hydra.searchpath=[file://{search_config_dir}]",
        "hparams_search=bad_start",
        "model.scheduler=null",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.max_failures=0",
    )
    assert result.returncode != 0
    assert "more than hydra.sweeper.max_failures=0; stopping the sweep" in result.stderr
    sweep = optuna_sweep_dir(tmp_path)
    assert [r["state"] for r in read_summary(sweep)] == ["failed"]  # report written anyway


def test_a_search_dimension_optuna_cannot_sample_ends_in_one_message(tmp_path):
    result = run_sweep(tmp_path, *OPTUNA, "model.optimizer.lr=glob(*)")
    assert result.returncode == 1
    assert "model.optimizer.lr=glob(*) is not a search dimension" in result.stderr
    assert "Traceback" not in result.stderr


def test_pruned_trial_stops_early_and_shows_as_pruned(tmp_path):
    result = run_sweep(
        tmp_path,
        *OPTUNA,
        "trainer.max_epochs=3",
        "hydra.sweeper.n_trials=1",
        # a pruner that stops any trial whose val/acc is below 2: the first report prunes
        "~hydra.sweeper.pruner",
        "+hydra.sweeper.pruner={_target_:optuna.pruners.ThresholdPruner,lower:2.0}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = optuna_sweep_dir(tmp_path)
    (trial,) = load_study(sweep).trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [0]  # reported once, after epoch 0
    (row,) = read_summary(sweep)
    assert row["state"] == "pruned" and row["epochs"] == "1"
    assert row["val/acc_best"] != ""  # what it reached before being stopped


def test_submitit_local_launcher_runs_a_two_job_sweep(tmp_path):
    result = run_sweep(
        tmp_path,
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=10",
        *FAST,
        "test=false",
        "model.optimizer.lr=0.001,0.0003",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert (sweep / ".submitit").is_dir()  # the jobs ran through submitit, in their own processes
    rows = read_summary(sweep)
    assert [r["state"] for r in rows] == ["complete", "complete"]
    assert [r["overrides"].split()[-1] for r in rows] == [
        "model.optimizer.lr=0.001",
        "model.optimizer.lr=0.0003",
    ]
    # in parallel: each job started before the other one ended
    jobs = [json.loads((sweep / j / "job.json").read_text()) for j in ("0", "1")]
    assert all(a["started"] < b["started"] + b["wall_s"] for a, b in (jobs, jobs[::-1]))


def test_a_job_requeued_by_slurm_resumes_from_its_last_checkpoint(tmp_path, monkeypatch):
    from alexnet_lightning.checkpoints import requeued_checkpoint

    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    last.write_bytes(b"")
    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    assert requeued_checkpoint(tmp_path) is None  # a first start never resumes on its own
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert requeued_checkpoint(tmp_path) == last
    assert requeued_checkpoint(tmp_path / "other_job") is None  # requeued before any save


@pytest.mark.parametrize(
    ("returned", "state"),
    [(0.75, "complete"), (float("nan"), "failed"), (None, "failed")],
)
def test_optuna_sweeper_tells_a_nan_or_missing_metric_as_failed(returned, state):
    from hydra.core.utils import JobReturn, JobStatus

    from alexnet_lightning.sweeps.optuna_sweeper import tell

    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    result = JobReturn(status=JobStatus.COMPLETED)
    result.return_value = returned
    assert tell(study, trial, result) == state
    told = optuna.trial.TrialState.COMPLETE if state == "complete" else optuna.trial.TrialState.FAIL
    assert study.trials[0].state == told


def test_slurm_launcher_submits_one_gpu_jobs_that_slurm_may_requeue(tmp_path, monkeypatch):
    """The sbatch script hydra/launcher=slurm would submit. There is no SLURM here: submitit
    only checks that srun exists (a stub on PATH), and submission stops at map_array."""
    import submitit
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    stub = tmp_path / "bin" / "srun"
    stub.parent.mkdir()
    stub.write_text("#!/bin/sh\nexit 1\n")
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stub.parent}:{os.environ['PATH']}")
    scripts = []

    class Submitted(Exception):
        pass

    def capture(executor, *args):
        scripts.append(executor._executor._make_submission_file_text("python job.py", "uid"))
        raise Submitted

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", capture)
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "hydra/launcher=slurm",
                "hydra.launcher.partition=gpu",
                "hydra.launcher.account=proj",
                f"hydra.sweep.dir={tmp_path / 'sweep'}",
            ],
            return_hydra_config=True,
        )
    launcher = instantiate(cfg.hydra.launcher)
    launcher.config = cfg
    with pytest.raises(Submitted):
        launcher.launch([["model.optimizer.lr=0.01"]], initial_job_idx=0)
    (script,) = scripts
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --account=proj",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --time=240",
        "#SBATCH --requeue",
    ):
        assert line in script.splitlines(), (line, script)
    assert "#SBATCH --signal=" in script  # submitit's warning before the limit: it requeues
    assert cfg.hydra.launcher.max_num_timeout > 0  # after a time-out too, resuming last.ckpt


def test_search_space_comes_from_hydra_sweep_syntax_and_the_command_line():
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    from alexnet_lightning.sweeps.space import split_overrides

    params = {
        "model.optimizer.lr": "tag(log, interval(1e-4, 1e-1))",
        "model.net.dropout": "interval(0.0, 0.7)",
        "trainer.max_epochs": "tag(int, interval(5, 20))",
        "model/optimizer": "choice(adamw, sgd)",
    }
    arguments = ["data.batch_size=32,64", "model.net.dropout=0.3", "seed=1"]
    space, fixed = split_overrides(params, arguments, OverridesParser.create())
    assert space["model.optimizer.lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert space["trainer.max_epochs"] == IntDistribution(5, 20)
    assert space["model/optimizer"] == CategoricalDistribution(["adamw", "sgd"])
    assert space["data.batch_size"] == CategoricalDistribution(
        [32, 64]
    )  # added on the command line
    assert "model.net.dropout" not in space  # fixed on the command line
    assert fixed == ["model.net.dropout=0.3", "seed=1"]


def test_optuna_sweep_on_the_joblib_launcher_runs_two_trials_at_once(tmp_path):
    """The README's parallel sweep: hydra/launcher=joblib with n_jobs=2 runs the jobs, and the
    sweeper's n_jobs=2 asks Optuna for two trials per batch."""
    result = run_sweep(
        tmp_path,
        *OPTUNA,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.n_trials=2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = optuna_sweep_dir(tmp_path)
    assert job_folders(sweep) == ["0", "1"]
    rows = read_summary(sweep)
    assert [r["state"] for r in rows] == ["complete", "complete"]
    assert all(0.0 <= float(r["optimized_metric"]) <= 1.0 for r in rows)
    for job in ("0", "1"):
        assert (sweep / job / "metrics.json").is_file()
        assert (sweep / job / "checkpoints" / "last.ckpt").is_file()
    study = load_study(sweep)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert study.trials[0].params != study.trials[1].params
    # in parallel: each job started before the other one ended
    jobs = [json.loads((sweep / j / "job.json").read_text()) for j in ("0", "1")]
    assert all(a["started"] < b["started"] + b["wall_s"] for a, b in (jobs, jobs[::-1]))


def test_grid_sweeper_expands_the_grid_with_hydra_basic_sweeper():
    """Our GridSweeper leaves the grid to Hydra's BasicSweeper (a private class, through
    alexnet_lightning.compat): config params and command-line lists, batches of max_batch_size.
    Fails when a Hydra upgrade changes what we use of it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from hydra_plugins.alexnet_sweepers.grid import GridSweeper

    sweeper = GridSweeper(max_batch_size=3, params={"model.optimizer.lr": "0.1,0.01"})
    lines = [*sweeper._parse_config(), "data.batch_size=4,8", "seed=1"]
    batches = sweeper.split_arguments(
        OverridesParser.create().parse_overrides(lines), sweeper.max_batch_size
    )
    sweeper.overrides = batches
    jobs = []
    while not sweeper.is_done():
        jobs.append(sweeper.get_job_batch())
    assert [len(batch) for batch in jobs] == [3, 1]
    assert jobs[0][0] == ["model.optimizer.lr=0.1", "data.batch_size=4", "seed=1"]
    assert jobs[1][0] == ["model.optimizer.lr=0.01", "data.batch_size=8", "seed=1"]


def test_a_job_state_comes_from_its_job_return_and_job_json_has_one_writer(tmp_path):
    from hydra.core.utils import JobReturn, JobStatus

    from alexnet_lightning.errors import TrainingDiverged
    from alexnet_lightning.sweeps.jobs import JOB_FILE, job_outcome, write_job_record

    done = JobReturn(status=JobStatus.COMPLETED)
    done.return_value = 0.5
    assert job_outcome(done) == ("complete", 0.5)
    for raised, state in [
        (TrainingDiverged("loss is nan"), "failed"),
        (optuna.TrialPruned(), "pruned"),
    ]:
        result = JobReturn(status=JobStatus.FAILED, overrides=["a=1"])
        result.return_value = raised
        assert job_outcome(result) == (state, raised)  # read, not re-raised
    # the job writes its record, the sweeper then updates its state; nothing half-written
    write_job_record(tmp_path, state="complete", started=1.0, wall_s=2.0)
    write_job_record(tmp_path, state="failed", trial=3)
    record = json.loads((tmp_path / JOB_FILE).read_text())
    assert record == {"state": "failed", "started": 1.0, "wall_s": 2.0, "trial": 3}
    assert [p.name for p in tmp_path.iterdir()] == [JOB_FILE]
    write_job_record(tmp_path / "never_started", state="interrupted")
    assert not (tmp_path / "never_started").exists()
