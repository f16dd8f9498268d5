"""The SLURM path against a real SLURM: the two-node cluster of scripts/slurm_local.sh.

Every command is the README's own line (``readme_command``), with this module's tiny data,
its output folders and a few test settings added as overrides, so README and tests cannot
drift apart. The cluster comes from ``.ci/run`` (SLURM_CONF set) or is started here and
stopped at the end; where SLURM cannot be started (not root, no apt-get) the tests skip with
the reason, and under CI (CI=true) they fail instead.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import open_dict

from alexnet_lightning.entry.evaluate import evaluate
from alexnet_lightning.entry.train import train as train_entry
from tests.conftest import ROOT, TINY_SHAPES, compose_config
from tests.interrupt import assert_bitwise_equal, load
from tests.test_distributed import ODD_DATA, ODD_SHAPES
from tests.test_resume import EXACT, fit_in_process, trainer_arg

pytestmark = pytest.mark.slurm

README = ROOT / "README.md"
SLURM_LOCAL = ROOT / "scripts" / "slurm_local.sh"
# a few batches per job, as in tests/sweeps/runs.py
FAST = [
    *TINY_SHAPES,
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "test=false",
    "callbacks.rich_model_summary=null",
]
# the bitwise resume runs: tests/test_resume.py's in-process settings as a job's overrides, for
# 2 epochs of 6 steps; the jobs are held at step 7 (epoch 1) until they are signalled
EXACT_JOB = [*EXACT, trainer_arg("enable_progress_bar", "false"), "trainer.max_epochs=2"]
HOLD = "+callbacks.hold._target_=tests.interrupt.WaitForStopAt"


def readme_command(prefix: str) -> list[str]:
    """The README command line that starts with ``prefix`` (continuations joined), as argv."""
    text = README.read_text()
    for block in text.split("```bash\n")[1:]:
        block = block.split("```")[0].replace("\\\n", " ")
        for line in block.splitlines():
            if line.strip().startswith(prefix):
                return shlex.split(line, comments=True)
    raise AssertionError(f"README.md has no command starting with {prefix!r}")


def with_overrides(argv: list[str], *overrides: str) -> list[str]:
    """``argv`` with each ``key=value`` (or ``--option=value``) replacing the one of the same
    key, or appended; ``python`` becomes this interpreter."""
    argv = [sys.executable if a == "python" else a for a in argv]
    for override in overrides:
        key = override.split("=", 1)[0]
        same = [i for i, a in enumerate(argv) if a.split("=", 1)[0] == key]
        if same:
            argv[same[0]] = override
        else:
            argv.append(override)
    return argv


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the SLURM tests: {reason}")
    pytest.skip(reason)


def exports(stdout: str) -> dict[str, str]:
    """The ``export K=V`` lines slurm_local.sh prints for ``eval``."""
    pairs = [line.removeprefix("export ").split("=", 1) for line in stdout.splitlines()]
    return {key: value for key, value in pairs if key}


@pytest.fixture(scope="module")
def cluster() -> dict[str, str]:
    """The environment of a shell that ran ``eval "$(scripts/slurm_local.sh up)"``."""
    assert readme_command('eval "$(scripts/slurm_local.sh up)"')
    status = subprocess.run([SLURM_LOCAL, "status"], capture_output=True, text=True)
    started_here = status.returncode != 0
    up = subprocess.run([SLURM_LOCAL, "up"], capture_output=True, text=True, timeout=900)
    if up.returncode != 0:
        skip_or_fail(f"the local SLURM cluster did not start: {up.stderr.strip()[-500:]}")
    env = {**os.environ, **exports(up.stdout)}
    # the jobs import the tests' helper callbacks (tests/interrupt.py)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    yield env
    if started_here:
        subprocess.run([SLURM_LOCAL, "down"], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("slurm")


@pytest.fixture(scope="module")
def reference(base) -> Path:
    """The uninterrupted run (in this process); it also makes the module's dataset."""
    return fit_in_process(base, "reference", "trainer.max_epochs=2")


def run(argv: list[str], env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def outputs(tmp: Path, base: Path) -> list[str]:
    return [f"paths.data_dir={base / 'data'}", f"paths.log_dir={tmp / 'logs'}"]


def queue(env: dict) -> list[str]:
    """Ids of the sweep jobs (submitit names them after the task) SLURM still holds."""
    out = run(["squeue", "--noheader", "--me", "--name=train", "--format=%i"], env).stdout
    return out.split()


def only_sweep(tmp: Path) -> Path:
    (sweep,) = (tmp / "logs" / "train" / "multiruns").iterdir()
    return sweep


def summary(sweep: Path) -> list[dict]:
    with open(sweep / "summary.csv") as file:
        return list(csv.DictReader(file))


def wait_for(path: Path, timeout: float, what: str, process=None) -> None:
    deadline = time.monotonic() + timeout
    while not (path.is_file() and path.stat().st_size):
        assert process is None or process.poll() is None, f"{what}: the command ended first"
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout} s"
        time.sleep(0.2)


def when_requeued(job: str, env: dict, update: tuple[str, ...], timeout: float = 300) -> None:
    """Once SLURM has requeued ``job`` (it is pending again), change its ``scontrol update``
    fields ``update``."""
    deadline = time.monotonic() + timeout
    while not run(["squeue", "--noheader", "--jobs", job, "--format=%T"], env).stdout.startswith(
        "PENDING"
    ):
        assert time.monotonic() < deadline, f"job {job} was not requeued"
        time.sleep(0.2)
    run(["scontrol", "update", f"jobid={job}", *update], env)


# --- the cluster -------------------------------------------------------------------------


def test_local_cluster_has_two_nodes_and_up_again_only_prints_exports(cluster):
    again = run([str(SLURM_LOCAL), "up"], cluster)
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert lines and all(line.startswith("export ") for line in lines)  # for eval
    assert exports(again.stdout)["SLURM_CONF"] == cluster["SLURM_CONF"]
    nodes = run(["sinfo", "--noheader", "--Node", "--format=%N %P"], cluster).stdout.split()
    assert nodes == ["n1", "local*", "n2", "local*"]
    ranks = run(["srun", "-N2", "--ntasks-per-node=1", "printenv", "SLURM_NODEID"], cluster)
    assert sorted(ranks.stdout.split()) == ["0", "1"], ranks.stderr


# --- sweeps ---------------------------------------------------------------------------------


def test_grid_sweep_runs_each_job_as_a_slurm_job(
    cluster, reference, base, tmp_path, time_limited_job
):
    argv = with_overrides(
        readme_command("python scripts/train.py -m hydra/launcher=slurm_local model."),
        *FAST,
        *outputs(tmp_path, base),
        "model.optimizer.lr=0.001,0.0003",
    )
    result = run(argv, cluster)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = only_sweep(tmp_path)
    assert [r["state"] for r in summary(sweep)] == ["complete", "complete"]
    assert [(sweep / j / "metrics.json").is_file() for j in ("0", "1")] == [True, True]
    # one job array: <array id>_<task>/ with each task's sbatch output and result
    (script,) = sweep.glob(".submitit/*/*_submission.sh")
    array = script.parent.name
    text = script.read_text()
    assert "#SBATCH --partition=local" in text and "#SBATCH --array=0-1%2" in text
    assert "gpus" not in text  # the local cluster has none to give
    for task in (0, 1):
        out = sweep / ".submitit" / f"{array}_{task}" / f"{array}_{task}_0_log.out"
        assert "Job completed successfully" in out.read_text()
    # the two jobs ran at the same time, one on each node's share
    jobs = [json.loads((sweep / j / "job.json").read_text()) for j in ("0", "1")]
    assert all(a["started"] < b["started"] + b["wall_s"] for a, b in (jobs, jobs[::-1]))
    assert queue(cluster) == []


def test_failed_job_is_reported_with_its_log_and_the_sweep_exits_non_zero(
    cluster, reference, base, tmp_path
):
    argv = with_overrides(
        readme_command("python scripts/train.py -m hydra/launcher=slurm_local model."),
        *FAST,
        *outputs(tmp_path, base),
        "model.optimizer.lr=0.001,-1",  # job 1: a bad value
    )
    result = run(argv, cluster)
    assert result.returncode == 1, result.stderr[-3000:]
    sweep = only_sweep(tmp_path)
    rows = summary(sweep)
    assert [r["state"] for r in rows] == ["complete", "failed"]
    log = Path(rows[1]["log"])
    assert log == sweep / "1" / "train.log"
    assert "model.optimizer.lr=-1 is invalid" in log.read_text()
    assert f"1 of 2 jobs failed (jobs 1); their logs: {log}" in result.stderr
    assert queue(cluster) == []


def test_optuna_sweep_runs_two_trials_at_a_time_and_resumes(cluster, reference, base, tmp_path):
    argv = readme_command(
        "python scripts/train.py -m hparams_search=alexnet_optuna hydra/launcher=slurm_local"
    )
    assert "hydra.sweeper.n_jobs=2" in argv
    argv = with_overrides(argv, *FAST, *outputs(tmp_path, base), "hydra.sweeper.n_trials=2")
    first = run(argv, cluster)
    assert first.returncode == 0, first.stderr[-3000:]
    sweep = tmp_path / "logs" / "train" / "multiruns" / "optuna_alexnet"
    study = optuna.load_study(study_name="alexnet", storage=f"sqlite:///{sweep / 'optuna.db'}")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    jobs = [json.loads((sweep / j / "job.json").read_text()) for j in ("0", "1")]
    assert all(a["started"] < b["started"] + b["wall_s"] for a, b in (jobs, jobs[::-1]))
    records = [(sweep / j / "job.json").read_text() for j in ("0", "1")]

    # the same command again: the study is found, done, and no trial runs again
    again = run(argv, cluster)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "2 of 2 trials done" in again.stdout + again.stderr
    study = optuna.load_study(study_name="alexnet", storage=f"sqlite:///{sweep / 'optuna.db'}")
    assert len(study.trials) == 2 and queue(cluster) == []
    assert [(sweep / j / "job.json").read_text() for j in ("0", "1")] == records


# --- preemption and time limits ---------------------------------------------------------------


def test_preempted_submitit_job_is_requeued_and_resumes_bitwise(cluster, reference, base, tmp_path):
    marker = tmp_path / "holding"
    argv = with_overrides(
        readme_command("python scripts/train.py -m hydra/launcher=slurm_local model."),
        *EXACT_JOB,
        *outputs(tmp_path, base),
        *[o for o in EXACT if o.startswith("model.optimizer.lr=")],  # one job, not the grid
        HOLD,
        "+callbacks.hold.step=7",
        f"+callbacks.hold.marker={marker}",
    )
    with open(tmp_path / "sweep.log", "w") as log:
        sweep_process = subprocess.Popen(argv, cwd=ROOT, env=cluster, stdout=log, stderr=log)
        try:
            wait_for(marker, 180, "training reached step 7", sweep_process)
            job = marker.read_text()
            signal_cmd = readme_command("scancel --signal=USR2")
            assert signal_cmd == ["scancel", "--signal=USR2", "<job", "id>"]
            assert run([*signal_cmd[:2], job], cluster).returncode == 0
            assert sweep_process.wait(timeout=300) == 0, (tmp_path / "sweep.log").read_text()[
                -3000:
            ]
        finally:
            sweep_process.kill()
    sweep = only_sweep(tmp_path)
    folder = sweep / "0"
    assert (folder / "resumed_from.txt").read_text().strip() == str(
        folder / "checkpoints" / "last.ckpt"
    )
    out = (sweep / ".submitit" / job / f"{job}_0_log.out").read_text()
    assert "SIGUSR2 received: saved" in out and "at step 8" in out  # held at 7, saved after 8
    assert "Requeued job" in out and "resuming from" in out
    final = load(folder / "checkpoints" / "last.ckpt")
    assert_bitwise_equal(final, load(reference / "checkpoints" / "last.ckpt"))
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics == json.loads((reference / "metrics.json").read_text())
    assert [r["state"] for r in summary(sweep)] == ["complete"]
    assert queue(cluster) == []


@pytest.fixture(scope="module")
def time_limited_job(cluster, reference, base) -> dict:
    """The README's sbatch job, brought to its time limit: submitted by the first sweep
    test, and driven by a thread, so that its waiting (for SLURM's warning, for the
    requeued job's start) overlaps the other tests.

    Once training holds at step 7 its time limit becomes 2 minutes: SLURM, which checks limits
    every 30 s, then sends the --signal warning (90 s before the limit) within 30 s.
    """
    tmp = base / "time_limited"
    tmp.mkdir()
    argv = readme_command("sbatch --time=240 --signal=USR1@90 scripts/slurm_train.sh")
    script = argv.index("scripts/slurm_train.sh")
    marker = tmp / "holding"
    overrides = [*EXACT_JOB, *outputs(tmp, base), HOLD, "+callbacks.hold.step=7"]
    overrides += [f"+callbacks.hold.marker={marker}", "+callbacks.hold.timeout=600"]
    submitted = time.time()
    sbatch = run(
        [*argv[:script], f"--output={tmp / 'job.out'}", "--parsable", argv[script], *overrides],
        {**cluster, "PYTHON": sys.executable},
    )
    assert sbatch.returncode == 0, sbatch.stderr
    job = sbatch.stdout.strip()

    def drive() -> None:
        wait_for(marker, 300, "training reached step 7")
        run(["scontrol", "update", f"jobid={job}", "TimeLimit=2"], cluster)
        when_requeued(job, cluster, ("TimeLimit=240",))  # the second attempt: the README's

    threading.Thread(target=drive, daemon=True).start()
    return {"job": job, "tmp": tmp, "marker": marker, "submitted": submitted}


def test_batch_job_at_its_time_limit_is_requeued_and_resumes_bitwise(
    time_limited_job, cluster, reference
):
    job, tmp, marker = time_limited_job["job"], time_limited_job["tmp"], time_limited_job["marker"]
    deadline = time.monotonic() + 400
    while run(["squeue", "--noheader", "--jobs", job], cluster).stdout.strip():
        assert time.monotonic() < deadline, (tmp / "job.out").read_text()[-3000:]
        time.sleep(0.5)
    first_step = float(Path(f"{marker}.started").read_text()) - time_limited_job["submitted"]
    out = (tmp / "job.out").read_text()
    first, second = sorted((tmp / "logs" / "train" / "runs").iterdir())
    stopped = load(first / "checkpoints" / "last.ckpt")
    assert "Handling auto-requeue signal" in out  # Lightning's, at SIGUSR1
    assert "SIGTERM received: saved" in out and stopped["global_step"] == 8
    assert list(first.glob("hpc_ckpt_*.ckpt"))
    assert (second / "resumed_from.txt").read_text().strip() == str(first / "checkpoints/last.ckpt")
    # nothing was lost: the second attempt started at the step the first one had reached
    assert "resuming from" in (second / "train.log").read_text()
    assert_bitwise_equal(
        load(second / "checkpoints" / "last.ckpt"), load(reference / "checkpoints" / "last.ckpt")
    )
    metrics = json.loads((second / "metrics.json").read_text())
    assert metrics == json.loads((reference / "metrics.json").read_text())
    print(f"sbatch to the first training step: {first_step:.1f} s")  # the README's figure


# --- multi-node DDP ---------------------------------------------------------------------------

DDP_RUN = [*ODD_SHAPES, "trainer.max_epochs=1", "seed=0", "trainer.deterministic=true"]
DDP_RUN += ["callbacks.rich_model_summary=null"]


def ddp_outputs(base: Path, tmp: Path) -> list[str]:
    return [f"paths.data_dir={base / 'ddp' / 'data'}", f"paths.log_dir={tmp / 'logs'}"]


@pytest.fixture(scope="module")
def ddp_data(base) -> Path:
    """The DDP runs' data, made first: two processes must not both generate it."""
    instantiate(compose_config("train", ODD_SHAPES, base / "ddp").data).prepare_data()
    return base / "ddp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def torchrun_ddp(ddp_data, base) -> Path:
    """The README's torchrun command run twice at once (two "machines"), without SLURM."""
    argv = readme_command("torchrun --nnodes=2")
    argv = [sys.executable, "-m", "torch.distributed.run", *argv[1:]]
    tmp = base / "torchrun"
    argv = with_overrides(
        argv,
        f"--rdzv-endpoint=127.0.0.1:{free_port()}",
        f"--rdzv-id=test-{os.getpid()}",
        *DDP_RUN,
        *ddp_outputs(base, tmp),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    nodes = [
        subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    errors = [node.communicate(timeout=300)[1] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], errors[0][-3000:] + errors[1][-3000:]
    (folder,) = (tmp / "logs" / "train" / "runs").iterdir()
    return folder


@pytest.fixture(scope="module")
def srun_ddp(cluster, ddp_data, base) -> Path:
    tmp = base / "srun"
    argv = readme_command("srun -N2 --ntasks-per-node=1 python")
    result = run(with_overrides(argv, *DDP_RUN, *ddp_outputs(base, tmp)), cluster)
    assert result.returncode == 0, result.stderr[-3000:]
    (folder,) = (tmp / "logs" / "train" / "runs").iterdir()
    # rank 1's own line, once, through its Hydra logging (stdout) since Lightning's second
    # handler is gone
    assert (result.stdout + result.stderr).count("GLOBAL_RANK: 1, MEMBER: 2/2") == 1
    return folder


def in_process(entry, config: str, overrides: list[str], data_tmp: Path, out: Path) -> dict:
    """An entry function (train, evaluate) run here on ``data_tmp/data``, output in ``out``."""
    cfg = compose_config(config, overrides, data_tmp)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    deterministic, environ = torch.are_deterministic_algorithms_enabled(), dict(os.environ)
    try:
        return entry(cfg)
    finally:  # as tests/test_resume.py's fit_in_process: leave other tests as they were
        torch.use_deterministic_algorithms(deterministic)
        os.environ.clear()
        os.environ.update(environ)


def assert_one_run_folder_with_one_process_metrics(folder: Path, ddp_data: Path, tmp: Path):
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]
    # 24 images over 2 ranks in batches of 4: 3 steps
    assert load(folder / "checkpoints" / "last.ckpt")["global_step"] == 3
    assert "epoch 1/1  step 3  train/loss" in (folder / "train.log").read_text()
    ddp = json.loads((folder / "metrics.json").read_text())
    best = folder / "checkpoints" / "best.ckpt"
    evaluated = [*ODD_DATA, "split=val", f"ckpt_path={best}"]
    single = in_process(evaluate, "eval", evaluated, ddp_data, tmp / "eval")
    # one epoch: best.ckpt holds the weights the DDP validation ran on (15 images, unpadded)
    assert ddp["val/acc"] == pytest.approx(single["test/acc"], abs=1e-7)
    assert ddp["val/loss"] == pytest.approx(single["test/loss"], rel=1e-5)


def test_torchrun_two_nodes_without_slurm_writes_one_run_folder(torchrun_ddp, ddp_data, tmp_path):
    assert_one_run_folder_with_one_process_metrics(torchrun_ddp, ddp_data, tmp_path)


def test_srun_two_node_ddp_writes_one_run_folder_the_same_as_torchrun(
    srun_ddp, torchrun_ddp, ddp_data, tmp_path
):
    assert_one_run_folder_with_one_process_metrics(srun_ddp, ddp_data, tmp_path)
    metrics = json.loads((srun_ddp / "metrics.json").read_text())
    assert metrics == json.loads((torchrun_ddp / "metrics.json").read_text())
    assert_bitwise_equal(
        load(srun_ddp / "checkpoints" / "last.ckpt"),
        load(torchrun_ddp / "checkpoints" / "last.ckpt"),
    )


def test_the_srun_ddp_checkpoint_resumes_on_one_process(srun_ddp, ddp_data, tmp_path):
    last = srun_ddp / "checkpoints" / "last.ckpt"
    resumed = [*ODD_SHAPES, "trainer.max_epochs=2", "test=false", f"ckpt_path={last}"]
    resumed += ["callbacks.rich_progress_bar=null", "callbacks.rich_model_summary=null"]
    in_process(train_entry, "train", resumed, ddp_data, tmp_path / "resumed")
    # one more epoch on one process: 24 images in batches of 4
    assert load(tmp_path / "resumed" / "checkpoints" / "last.ckpt")["global_step"] == 3 + 6


# --- mistakes -----------------------------------------------------------------------------


def sweep_with(tmp: Path, base: Path, *overrides: str) -> list[str]:
    argv = readme_command("python scripts/train.py -m hydra/launcher=slurm_local model.")
    return with_overrides(argv, *FAST, *outputs(tmp, base), *overrides)


def test_no_slurm_on_the_machine_is_one_line_and_exit_status_2(base, tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with python and without any SLURM command
    bin_dir.mkdir()
    env = {**os.environ, "PATH": str(bin_dir)}
    result = run(sweep_with(tmp_path, base), env)
    assert result.returncode == 2, result.stderr[-3000:]
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "hydra/launcher=slurm_local submits jobs to SLURM, but there is no sbatch here" in line
    assert "scripts/slurm_local.sh up" in line and "Traceback" not in result.stderr
    assert not (tmp_path / "logs").exists()


def test_a_partition_that_does_not_exist_is_one_line_and_nothing_is_queued(cluster, base, tmp_path):
    result = run(sweep_with(tmp_path, base, "hydra.launcher.partition=gpu"), cluster)
    assert result.returncode == 2, result.stderr[-3000:]
    assert (
        "error: hydra.launcher.partition=gpu is not a partition of this cluster (it has local); "
        "pass one of them" in result.stderr
    )
    assert "Traceback" not in result.stderr and queue(cluster) == []


def test_a_misspelt_launcher_key_is_hydras_one_line_and_nothing_is_queued(cluster, base, tmp_path):
    result = run(sweep_with(tmp_path, base, "hydra.launcher.partiton=local"), cluster)
    assert result.returncode == 1
    assert "Could not override 'hydra.launcher.partiton'" in result.stderr
    assert "Traceback" not in result.stderr and queue(cluster) == []
