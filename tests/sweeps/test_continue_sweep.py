"""A grid sweep killed halfway: the same command again finishes the missing jobs only, in the
same folder, and the report covers every job (sweeps/continue_sweep.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from omegaconf import OmegaConf

from alexnet_lightning.sweeps import continue_sweep
from alexnet_lightning.sweeps.jobs import job_overrides
from tests.sweeps.runs import FAST, job_folders, read_summary, run_sweep, sweep_command

SEEDS = "seed=0,1,2"


def kill_in_second_job(tmp_path) -> None:
    """Starts the sweep and kills it (SIGKILL, the whole process group) once job 0 is done and
    job 1 has its folder."""
    proc = subprocess.Popen(
        sweep_command(tmp_path, *FAST, SEEDS),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    multiruns = tmp_path / "logs" / "train" / "multiruns"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        records = list(multiruns.glob("*/0/job.json"))
        started = list(multiruns.glob("*/1/.hydra"))
        if started and json.loads(records[0].read_text()).get("state") == "complete":
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_rerunning_a_killed_sweep_runs_the_missing_jobs_only(tmp_path):
    kill_in_second_job(tmp_path)
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    first_record = (sweep / "0" / "job.json").read_text()
    events_of_job0 = sorted((sweep / "0").rglob("events.out.tfevents.*"))
    assert not (sweep / "summary.csv").exists()  # killed: no report yet
    assert job_folders(sweep) == ["0", "1"]

    result = run_sweep(tmp_path, *FAST, SEEDS)
    assert result.returncode == 0, result.stderr[-3000:]
    # the same folder, not a second sweep; job 0 untouched
    assert list((tmp_path / "logs" / "train" / "multiruns").iterdir()) == [sweep]
    assert (sweep / "0" / "job.json").read_text() == first_record
    assert sorted((sweep / "0").rglob("events.out.tfevents.*")) == events_of_job0
    assert "continuing the unfinished sweep" in result.stderr + result.stdout
    assert "1 of 3 jobs complete, running job(s) 1, 2" in result.stderr + result.stdout
    # a job the kill left half-done is kept aside, not deleted
    kept = sorted(p.name.split("_")[0] for p in (sweep / continue_sweep.SET_ASIDE).iterdir())
    assert kept == ["1"]
    rows = read_summary(sweep)
    assert [r["job"] for r in rows] == ["0", "1", "2"]
    assert all(r["state"] == "complete" for r in rows)
    assert [r["overrides"].split()[-1] for r in rows] == ["seed=0", "seed=1", "seed=2"]

    # that sweep is finished now: its command (as recorded) continues nothing
    config = OmegaConf.load(sweep / "multirun.yaml")
    jobs = [job_overrides(sweep / row["job"]) for row in rows]
    assert continue_sweep.done_jobs(sweep, jobs) == {0, 1, 2}
    assert continue_sweep.unfinished_sweep(config, jobs) is None


def test_pending_runs_split_a_batch_around_the_done_jobs():
    batch = [["a=0"], ["a=1"], ["a=2"], ["a=3"], ["a=4"]]
    runs = list(continue_sweep.pending_runs(10, batch, done={11, 12}))
    assert runs == [(10, [["a=0"]]), (13, [["a=3"], ["a=4"]])]
    assert list(continue_sweep.pending_runs(0, batch, done=set())) == [(0, batch)]
    assert list(continue_sweep.pending_runs(0, batch, done={0, 1, 2, 3, 4})) == []
