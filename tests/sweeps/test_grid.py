"""The grid sweeper (sweeps/grid.py): one run folder per job, failures recorded, the report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.sweeps.runs import (
    FAST,
    hparams_session,
    job_folders,
    read_summary,
    run_sweep,
    tensorboard_custom_scalars,
    tensorboard_hparams_table,
)


@pytest.mark.slow
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
    combos, columns_of_jobs, names_of_jobs = set(), [], []
    for row in rows:
        job = sweep / row["job"]
        assert (job / "metrics.json").is_file() and (job / "checkpoints" / "last.ckpt").is_file()
        assert row["state"] == "complete" and row["epochs"] == "1"
        assert row["optimized_metric"] == row["val/acc_best"] and row["test/acc"] != ""
        assert Path(row["best_ckpt"]).is_file() and float(row["wall_s"]) > 0
        values = dict(o.split("=", 1) for o in row["overrides"].split())
        combos.add((values["model.optimizer.lr"], values["data.batch_size"]))
        names_of_jobs.append(
            f"lr={values['model.optimizer.lr']},batch_size={values['data.batch_size']}"
        )
        # TensorBoard's HParams tab at the sweep folder: this job's params beside its metrics
        params, columns, scalars = hparams_session(job)
        assert params["model.optimizer.lr"].number_value == float(values["model.optimizer.lr"])
        assert params["data.batch_size"].number_value == float(values["data.batch_size"])
        assert {"val/acc_best", "test/acc"} <= scalars
        columns_of_jobs.append(columns)
    assert combos == {(lr, bs) for lr in ("0.001", "0.0003") for bs in ("4", "8")}
    # every job names the same columns, so whichever TensorBoard reads fits them all
    assert all(columns == columns_of_jobs[0] for columns in columns_of_jobs)
    # `tensorboard --logdir <sweep>`: one HParams row per job, swept params first, the metrics
    sessions, params, metrics, first = tensorboard_hparams_table(sweep)
    # each run named by its job's swept overrides
    assert sessions == [f"{job}/tensorboard/{name}" for job, name in enumerate(names_of_jobs)]
    assert first == {"model.optimizer.lr", "data.batch_size"}
    assert params[:2] == ["data.batch_size", "model.optimizer.lr"]
    assert metrics == ["val/acc_best", "val/acc", "val/loss", "train/acc", "train/loss"]
    assert not [p for p in params if "_target_" in p or p.startswith("paths")]
    # its Custom Scalars page: one Loss chart (train and val) for all four jobs
    charts = tensorboard_custom_scalars(sweep)
    assert [title for title, _ in charts].count("Loss") == 1  # 4 jobs' layouts, merged
    assert dict(charts)["Loss"] == ["^train/loss$", "^val/loss$"]
    assert len(charts) == 6
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


@pytest.mark.slow
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


def test_grid_sweeper_expands_the_grid_with_hydra_basic_sweeper():
    """Our GridSweeper leaves the grid to Hydra's BasicSweeper (a private class, through
    alexnet_lightning.compat): config params and command-line lists, batches of max_batch_size.
    Fails when a Hydra upgrade changes what we use of it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from alexnet_lightning.compat import sweep_params
    from hydra_plugins.alexnet_sweepers.grid import GridSweeper

    sweeper = GridSweeper(max_batch_size=3, params={"model.optimizer.lr": "0.1,0.01"})
    lines = [*sweep_params(sweeper), "data.batch_size=4,8", "seed=1"]
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
