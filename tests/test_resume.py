"""Exact resume: SIGKILL or SIGTERM a training run, resume it, get the same weights bit for bit."""

import csv
import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf, open_dict
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from alexnet_lightning.checkpoints import find_last_checkpoint
from alexnet_lightning.data.folder_datamodule import ImageFolderDataModule
from alexnet_lightning.data.samplers import ResumableShuffleSampler
from alexnet_lightning.entry.train import train as train_entry
from alexnet_lightning.errors import CheckpointError
from alexnet_lightning.models.classifier import BEST_KEY, AlexNetClassifier
from alexnet_lightning.models.variants import target_of
from tests.conftest import CONF, EXACT_RUN, ROOT, TINY_SHAPES, compose_config
from tests.interrupt import (
    KILL,
    Interrupted,
    assert_bitwise_equal,
    assert_killed_run_resumes_bitwise,
    load,
    runs,
)

RUN = [*TINY_SHAPES, *EXACT_RUN]


def train(
    *overrides: str, tmp: Path, data: Path, env: dict | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env or {})}
    # the training process imports the kill callback from tests/
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        str(ROOT / "scripts" / "train.py"),
        f"paths.data_dir={data}",
        f"paths.log_dir={tmp / 'logs'}",
        *RUN,
        *overrides,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp, env=env)
    time.sleep(1.01)  # run folders are named by the second
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, data) -> dict:
    tmp = tmp_path_factory.mktemp("uninterrupted")
    result = train(tmp=tmp, data=data)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = runs(tmp)
    return load(run / "checkpoints" / "last.ckpt")


@pytest.mark.slow
def test_killed_between_epochs_resumes_bitwise_from_ckpt_path_last(uninterrupted, data, tmp_path):
    killed = train(KILL, "+callbacks.kill.epoch=1", tmp=tmp_path, data=data)
    assert killed.returncode == -signal.SIGKILL
    (first,) = runs(tmp_path)
    assert load(first / "checkpoints" / "last.ckpt")["global_step"] == 6

    resumed = train("ckpt_path=last", tmp=tmp_path, data=data)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    second = runs(tmp_path)[1]
    assert_bitwise_equal(load(second / "checkpoints" / "last.ckpt"), uninterrupted)
    recorded = (second / "resumed_from.txt").read_text().strip()
    assert recorded == str((first / "checkpoints" / "last.ckpt").resolve())
    # TensorBoard curves continue: the new run's scalars start after the checkpoint's step.
    steps = []
    for events in (second / "tensorboard").rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        if "train/loss" in accumulator.Tags()["scalars"]:
            steps += [event.step for event in accumulator.Scalars("train/loss")]
    assert steps and min(steps) > 6


@pytest.mark.slow
def test_killed_mid_epoch_resumes_bitwise_from_a_step_checkpoint(uninterrupted, data, tmp_path):
    # loader workers as real datasets run them: the SIGKILL ends them along with the job, and
    # the reference ran without any, so this also checks the order does not depend on them
    workers = ["data.num_workers=2", "data.persistent_workers=true"]
    assert_killed_run_resumes_bitwise(
        functools.partial(train, data=data),
        tmp_path,
        "ShapesDataModule",
        *workers,
        uninterrupted=uninterrupted,
    )


@pytest.mark.slow
def test_sigterm_saves_last_checkpoint_and_resumes_bitwise(uninterrupted, data, tmp_path):
    stopped = train(
        KILL, "+callbacks.kill.step=3", "+callbacks.kill.sig=SIGTERM", tmp=tmp_path, data=data
    )
    output = stopped.stdout + stopped.stderr
    assert stopped.returncode == 143, output[-3000:]
    last = runs(tmp_path)[0] / "checkpoints" / "last.ckpt"
    assert "SIGTERM received: saved" in output and str(last) in output
    # the batch running when the signal came finished, then its state was saved
    assert load(last)["global_step"] == 4

    resumed = train("ckpt_path=last", tmp=tmp_path, data=data)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_bitwise_equal(load(runs(tmp_path)[1] / "checkpoints" / "last.ckpt"), uninterrupted)


@pytest.mark.slow
def test_sigusr1_saves_last_checkpoint_outside_slurm(data, tmp_path):
    stopped = train(
        KILL, "+callbacks.kill.step=2", "+callbacks.kill.sig=SIGUSR1", tmp=tmp_path, data=data
    )
    assert stopped.returncode == 143, (stopped.stdout + stopped.stderr)[-3000:]
    assert load(runs(tmp_path)[0] / "checkpoints" / "last.ckpt")["global_step"] == 3


@pytest.mark.slow
def test_sigusr1_on_slurm_saves_and_requeues_the_job(data, tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    calls = tmp_path / "scontrol_calls.txt"
    (fake_bin / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (fake_bin / "scontrol").chmod(0o755)
    slurm = {
        "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}",
        "SLURM_NTASKS": "1",
        "SLURM_JOB_NAME": "train",
        "SLURM_NODEID": "0",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODELIST": "node1",
        "SLURM_JOB_ID": "4242",
    }
    result = train(
        "trainer.max_epochs=1",
        KILL,
        "+callbacks.kill.step=2",
        "+callbacks.kill.sig=SIGUSR1",
        tmp=tmp_path,
        data=data,
        env=slurm,
    )
    assert result.returncode == 0, result.stderr[-3000:]  # SLURM, not the job, ends it
    assert calls.read_text().split() == ["requeue", "4242"]
    (hpc,) = runs(tmp_path)[0].glob("hpc_ckpt_*.ckpt")
    assert load(hpc)["global_step"] == 2


@pytest.mark.slow
def test_ckpt_path_last_without_an_earlier_run_is_one_clear_message(data, tmp_path):
    result = train("ckpt_path=last", tmp=tmp_path, data=data)
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "ckpt_path=last: no checkpoints/last.ckpt of experiment=None" in output
    assert "Traceback" not in output


def _fake_run(task_dir: Path, stamp: str, experiment: str, mtime: float) -> Path:
    run = task_dir / "runs" / stamp
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "hydra.yaml").write_text(
        f"hydra:\n  runtime:\n    choices:\n      experiment: {experiment}\n"
    )
    ckpt = run / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"x")
    os.utime(ckpt, (mtime, mtime))
    return ckpt


def test_ckpt_path_last_takes_the_newest_run_of_the_same_experiment(tmp_path):
    task = tmp_path / "train"
    _fake_run(task, "2026-01-01_00-00-00", "shapes", 100)
    newest_shapes = _fake_run(task, "2026-01-02_00-00-00", "shapes", 200)
    _fake_run(task, "2026-01-03_00-00-00", "imagenette", 300)
    current = _fake_run(task, "2026-01-04_00-00-00", "shapes", 400).parents[1]
    assert find_last_checkpoint(task, "shapes", exclude=current) == newest_shapes
    with pytest.raises(CheckpointError, match="experiment=imagenet_subset"):
        find_last_checkpoint(task, "imagenet_subset", exclude=current)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("net", "message"),
    [
        ({"num_classes": 10}, "with 10 classes but this run builds cifar with 4 (data.num_classes"),
        (
            {"variant": "paper", "_target_": target_of("paper")},
            "holds a paper network with 4 classes but this run builds cifar",
        ),
    ],
)
def test_resuming_into_another_network_is_one_clear_message(
    net, message, uninterrupted, data, tmp_path
):
    other = dict(uninterrupted, hyper_parameters=dict(uninterrupted["hyper_parameters"]))
    other["hyper_parameters"]["net"] = {**uninterrupted["hyper_parameters"]["net"], **net}
    ckpt = tmp_path / "other.ckpt"
    torch.save(other, ckpt)
    result = train(f"ckpt_path={ckpt}", tmp=tmp_path, data=data)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert message in output and "Traceback" not in output


@pytest.mark.slow
def test_resuming_from_a_truncated_checkpoint_is_one_clear_message(uninterrupted, data, tmp_path):
    ckpt = tmp_path / "last.ckpt"
    torch.save(uninterrupted, ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[:100_000])
    result = train(f"ckpt_path={ckpt}", tmp=tmp_path, data=data)
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "not a readable checkpoint" in output
    assert "Traceback" not in output


# In-process "train, stop, resume from last.ckpt" runs: a second or two each, where a
# subprocess costs Lightning's import on top. Stopping mid-epoch raises from a callback
# (tests.interrupt.RaiseAt); the SIGKILL tests above cover killing the process itself.
# Seed and lr are chosen so that val/acc peaks in epoch 1 and drops in epoch 2 (asserted in
# `straight`): a resume after epoch 1 that forgot the best reports a lower val/acc_best.
EXACT = [
    *TINY_SHAPES,
    "seed=1",
    "model.optimizer.lr=0.004",
    "model.scheduler=null",
    "trainer.deterministic=true",
    "trainer.max_epochs=3",
    # every step logs, so both runs log the same keys (the lr monitor logs on this cadence)
    "trainer.log_every_n_steps=1",
    "test=false",
    "callbacks.rich_progress_bar=null",
    "callbacks.rich_model_summary=null",
]
STEP_CHECKPOINTS = "callbacks.step_checkpoint.every_n_train_steps=5"


def trainer_arg(key: str, value: object) -> str:
    """``trainer.<key>=value``; with a ``+`` while conf/trainer/default.yaml lacks the key."""
    known = key in OmegaConf.load(CONF / "trainer" / "default.yaml")
    return f"{'' if known else '+'}trainer.{key}={value}"


def fit_in_process(tmp: Path, name: str, *overrides: str) -> Path:
    """Train through the package's entry function (as scripts/train.py does) into tmp/name."""
    cfg = compose_config(
        "train", [*EXACT, trainer_arg("enable_progress_bar", "false"), *overrides], tmp
    )
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp / name)
    # seed_everything exports PL_GLOBAL_SEED (the samplers' seed) and trainer.deterministic=true
    # switches deterministic algorithms on process-wide: leave other tests as they were
    deterministic, environ = torch.are_deterministic_algorithms_enabled(), dict(os.environ)
    try:
        train_entry(cfg)
    finally:
        torch.use_deterministic_algorithms(deterministic)
        os.environ.clear()
        os.environ.update(environ)
    return tmp / name


def scalars(run: Path, tag: str) -> dict[int, float]:
    """step -> value of one TensorBoard scalar of a run."""
    values = {}
    for events in (run / "tensorboard").rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        if tag in accumulator.Tags()["scalars"]:
            values |= {event.step: event.value for event in accumulator.Scalars(tag)}
    return values


def limits(limit: int | None) -> list[str]:
    return [] if limit is None else [trainer_arg("limit_train_batches", limit)]


@pytest.fixture(scope="module")
def exact_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("exact")


@pytest.fixture(scope="module")
def straight(exact_tmp):
    """The uninterrupted run (no loader workers) for a limit_train_batches, made once."""
    made: dict[int | None, Path] = {}

    def get(limit: int | None) -> Path:
        if limit not in made:
            run = fit_in_process(exact_tmp, f"straight_{limit}", *limits(limit))
            accuracy = [value for _, value in sorted(scalars(run, "val/acc").items())]
            assert len(accuracy) == 3 and max(accuracy[:2]) > accuracy[2], (
                f"val/acc per epoch {accuracy}: the best must come before the resume for the "
                "val/acc_best checks to mean anything; choose another seed or lr in EXACT"
            )
            made[limit] = run
        return made[limit]

    return get


@pytest.mark.slow
@pytest.mark.parametrize(
    ("workers", "persistent", "where", "limit"),
    [
        (2, True, "between_epochs", None),
        (2, False, "between_epochs", 4),
        (2, True, "mid_epoch", None),
        (2, False, "mid_epoch", 4),
        (0, False, "mid_epoch", 4),
    ],
)
def test_resume_is_bitwise_exact_with_any_loader_workers(
    workers, persistent, where, limit, straight, tmp_path
):
    reference = straight(limit)
    steps_per_epoch = limit or 6
    tmp = tmp_path
    loader = [f"data.num_workers={workers}", f"data.persistent_workers={persistent}"]
    common = [*loader, *limits(limit), STEP_CHECKPOINTS]
    if where == "between_epochs":  # the state a job killed as epoch 2 starts leaves
        first = fit_in_process(tmp, "first", *common, "trainer.max_epochs=2")
    else:
        # stopped one step before the end: the last step checkpoint lies inside epoch 2
        stop = f"+callbacks.kill.step={3 * steps_per_epoch - 1}"
        with pytest.raises(Interrupted):
            fit_in_process(
                tmp, "first", *common, "+callbacks.kill._target_=tests.interrupt.RaiseAt", stop
            )
    first = tmp / "first"
    stopped_at = load(first / "checkpoints" / "last.ckpt")
    position = stopped_at["ShapesDataModule"]
    if where == "between_epochs":
        assert stopped_at["global_step"] == 2 * steps_per_epoch
        assert position["epoch"] == 1 and position["batches_done"] == steps_per_epoch
    else:
        assert position["epoch"] == 2 and 0 < position["batches_done"] < steps_per_epoch
    assert position["epoch_batches"] == steps_per_epoch

    resumed = fit_in_process(
        tmp, "resumed", *common, f"ckpt_path={first / 'checkpoints' / 'last.ckpt'}"
    )

    final = load(resumed / "checkpoints" / "last.ckpt")
    expected = load(reference / "checkpoints" / "last.ckpt")
    assert final["global_step"] == expected["global_step"] == 3 * steps_per_epoch
    assert_bitwise_equal(final, expected)
    assert final["ShapesDataModule"] == expected["ShapesDataModule"]
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert metrics == json.loads((reference / "metrics.json").read_text())
    # the best came before the resume: it must have travelled in the checkpoint
    assert (
        metrics["val/acc_best"] == max(scalars(reference, "val/acc").values()) > metrics["val/acc"]
    )
    logged, straight_logged = scalars(resumed, "val/acc_best"), scalars(reference, "val/acc_best")
    assert logged and all(straight_logged[step] == value for step, value in logged.items())


def test_val_acc_best_is_in_the_checkpoint(straight):
    checkpoint = load(straight(None) / "checkpoints" / "last.ckpt")
    best = max(scalars(straight(None), "val/acc").values())
    assert checkpoint["state_dict"][BEST_KEY].item() == best


def test_the_sanity_check_does_not_count_towards_the_best():
    model = AlexNetClassifier(
        net={"variant": "half", "num_classes": 3},
        optimizer={"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1},
    )
    logged = {}
    model.log = lambda name, value, **kwargs: logged.__setitem__(name, float(value))
    model.val_metrics.update(torch.eye(3), torch.arange(3))  # 3 of 3 right
    model._trainer = SimpleNamespace(sanity_checking=True)
    model.on_validation_epoch_end()
    assert logged == {} and model.val_acc_best.max_value.item() == float("-inf")
    model._trainer.sanity_checking = False
    model.on_validation_epoch_end()
    assert logged == {"val/acc_best": 1.0}


@pytest.mark.slow
def test_a_requeued_grid_job_reports_the_same_optimized_metric(straight, exact_tmp, tmp_path):
    """SLURM requeued the job into its folder after epoch 2 started: the sweep's record of it
    (metrics.json, summary.csv) must equal that of the run that was never stopped."""
    sweep = tmp_path / "sweep"
    fit_in_process(sweep, "0", "trainer.max_epochs=2")  # the first attempt's job folder
    (sweep / "0" / "metrics.json").unlink()  # the killed attempt never wrote it
    command = [
        sys.executable,
        str(ROOT / "scripts" / "train.py"),
        "-m",
        f"hydra.sweep.dir={sweep}",
        f"paths.data_dir={exact_tmp / 'data'}",
        f"paths.log_dir={tmp_path / 'logs'}",
        *EXACT,
        trainer_arg("enable_progress_bar", "false"),
    ]
    env = {**os.environ, "SLURM_RESTART_COUNT": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (sweep / "0" / "resumed_from.txt").is_file()
    reference = straight(None)
    assert_bitwise_equal(
        load(sweep / "0" / "checkpoints" / "last.ckpt"),
        load(reference / "checkpoints" / "last.ckpt"),
    )
    metrics = json.loads((sweep / "0" / "metrics.json").read_text())
    assert metrics == json.loads((reference / "metrics.json").read_text())
    with open(sweep / "summary.csv") as file:
        (row,) = csv.DictReader(file)
    assert float(row["optimized_metric"]) == metrics["val/acc_best"]
    assert metrics["val/acc_best"] == max(scalars(reference, "val/acc").values())


def test_resuming_a_finished_run_still_reports_its_best(straight, tmp_path):
    """A job requeued after its last epoch: fit has nothing left to run and logs nothing."""
    reference = straight(None)
    run = fit_in_process(
        tmp_path, "finished_resumed", f"ckpt_path={reference / 'checkpoints' / 'last.ckpt'}"
    )
    best = json.loads((run / "metrics.json").read_text())["val/acc_best"]
    assert best == json.loads((reference / "metrics.json").read_text())["val/acc_best"]


@pytest.mark.parametrize(
    ("state", "epoch", "skipped_batches"),
    [
        ({"epoch": 1, "batches_done": 1, "epoch_batches": 4}, 1, 1),  # mid-epoch
        ({"epoch": 1, "batches_done": 4, "epoch_batches": 4}, 2, 0),  # ended: the next starts
        ({"epoch": 1, "batches_done": 2, "epoch_batches": 2}, 2, 0),  # ended under a limit
        ({"epoch": 1, "batches_done": 2, "epoch_batches": 3}, 1, 2),
    ],
)
def test_the_training_loader_starts_where_the_checkpoint_left_off(
    state, epoch, skipped_batches, image_folder
):
    """The loader is right from the moment it is built, before Lightning has restored its
    loops or called set_epoch."""
    datamodule = ImageFolderDataModule(
        root=image_folder, num_classes=3, batch_size=4, num_workers=0
    )
    datamodule.setup("fit")  # 18 training images: 4 batches of 4
    datamodule.load_state_dict(state)
    sampler = datamodule.train_dataloader().sampler
    full = ResumableShuffleSampler(datamodule.datasets["train"], seed=sampler.seed, epoch=epoch)
    assert sampler.epoch == epoch
    assert list(sampler) == list(full)[4 * skipped_batches :]
