"""Submitit launchers (sweeps/slurm_launcher.py): local processes, SLURM requeue, the
SLURM job settings."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import ROOT
from tests.sweeps.runs import FAST, read_summary, run_sweep


@pytest.mark.slow
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
