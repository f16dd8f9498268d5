"""The sweep report (sweeps/summary.py, sweeps/report.py) of any sweep folder."""

from __future__ import annotations

import json
import subprocess
import sys

from alexnet_lightning.sweeps.jobs import write_job_record
from alexnet_lightning.sweeps.summary import write_summary
from tests.conftest import ROOT
from tests.sweeps.runs import read_summary


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
