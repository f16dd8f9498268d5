"""The Optuna sweeper (sweeps/optuna_sweeper.py): trials, resume after a kill, failures,
pruning, parallel trials."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest

from tests.sweeps.runs import (
    OPTUNA,
    hparams_session,
    job_folders,
    load_study,
    optuna_sweep_dir,
    read_summary,
    run_sweep,
    sweep_command,
)


@pytest.mark.slow
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
    columns_of_jobs = []
    for row, trial in zip(rows, study.trials, strict=True):
        assert row["state"] == "complete"
        assert float(row["optimized_metric"]) == pytest.approx(trial.value)
        assert f"model.optimizer.lr={trial.params['model.optimizer.lr']!r}" in row["overrides"]
        assert "optuna_trial" not in row["overrides"]  # sweeper plumbing stays out
        params, columns, _ = hparams_session(sweep / row["job"])
        assert params["model/optimizer"].string_value == trial.params["model/optimizer"]
        assert "optuna_trial" not in params and "hparams_search" not in params
        # the searched keys first, the same columns in every job, a value in each
        # (data.batch_size is fixed on the command line: no longer searched, not first)
        assert set(columns[: len(trial.params)]) == set(trial.params)
        assert "data.batch_size" not in trial.params and set(params) == set(columns)
        columns_of_jobs.append(columns)
    assert all(columns == columns_of_jobs[0] for columns in columns_of_jobs)
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_search_dimension_optuna_cannot_sample_ends_in_one_message(tmp_path):
    result = run_sweep(tmp_path, *OPTUNA, "model.optimizer.lr=glob(*)")
    assert result.returncode == 1
    assert "model.optimizer.lr=glob(*) is not a search dimension" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
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


@pytest.mark.slow
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
