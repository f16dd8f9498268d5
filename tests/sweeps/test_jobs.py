"""A job's record (sweeps/jobs.py): its state and job.json."""

from __future__ import annotations

import json

import optuna

from alexnet_lightning.sweeps.jobs import write_job_record


def test_a_job_state_comes_from_its_job_return_and_job_json_has_one_writer(tmp_path):
    from hydra.core.utils import JobReturn, JobStatus

    from alexnet_lightning.errors import TrainingDiverged
    from alexnet_lightning.sweeps.jobs import JOB_FILE, job_outcome

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
