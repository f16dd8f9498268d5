"""DDP on two CPU processes (gloo): one run folder, one set of checkpoints, exact metrics."""

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY_NET
from tests.runs import finished_run, only_run_folder, run_script

# 15 validation images: an odd count, so two ranks get shards of 8 and 7.
ODD_DATA = [
    "data.num_classes=3",
    "data.train_per_class=8",
    "data.val_per_class=5",
    "data.source_size=72",
    "data.image_size=64",
    "data.batch_size=4",
    "data.num_workers=0",
    "data.persistent_workers=false",
]
ODD_SHAPES = [*TINY_NET, *ODD_DATA]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ddp")
    return finished_run(
        "train.py",
        *ODD_SHAPES,
        "trainer=ddp_cpu",
        "trainer.max_epochs=1",
        "seed=0",
        "callbacks.rich_progress_bar=null",
        tmp=tmp,
    )


@pytest.mark.slow
def test_ddp_writes_one_run_folder_with_one_set_of_checkpoints(ddp_run):
    tmp = ddp_run.parents[3]
    assert sorted(p.name for p in tmp.iterdir()) == ["data", "logs"]  # no stray Hydra folders
    assert sorted(p.name for p in (ddp_run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert (ddp_run / "config_tree.log").is_file() and (ddp_run / ".hydra/config.yaml").is_file()
    assert not list(ddp_run.glob("*rank*"))
    last = torch.load(ddp_run / "checkpoints/last.ckpt", weights_only=True)
    # 24 images, 2 ranks, batches of 4: 3 steps per epoch, each on 8 images
    assert last["global_step"] == 3
    metrics = json.loads((ddp_run / "metrics.json").read_text())
    assert {"val/acc", "val/loss", "test/acc", "train/loss"} <= set(metrics)


@pytest.mark.slow
def test_ddp_val_metrics_equal_one_process_on_the_same_weights(ddp_run, tmp_path):
    ddp = json.loads((ddp_run / "metrics.json").read_text())
    result = run_script(
        "eval.py",
        *ODD_DATA,
        "split=val",
        f"ckpt_path={ddp_run / 'checkpoints/best.ckpt'}",
        f"paths.data_dir={ddp_run.parents[3] / 'data'}",
        tmp=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    single = json.loads((only_run_folder(tmp_path, "eval") / "metrics.json").read_text())
    # One epoch: best.ckpt holds the weights the DDP validation ran on.
    assert ddp["val/acc"] == pytest.approx(single["test/acc"], abs=1e-7)
    assert ddp["val/acc_top5"] == pytest.approx(single["test/acc_top5"], abs=1e-7)
    assert ddp["val/loss"] == pytest.approx(single["test/loss"], rel=1e-5)
    # the DDP test pass ran on the same 15 images (no test/ folder), also sharded unpadded
    assert ddp["test/loss"] == pytest.approx(single["test/loss"], rel=1e-5)


@pytest.mark.slow
def test_a_second_ddp_job_in_a_sequential_sweep_stops_with_one_message(tmp_path):
    result = run_script(
        "train.py",
        "hydra.mode=MULTIRUN",
        *ODD_SHAPES,
        "trainer=ddp_cpu",
        "trainer.max_epochs=1",
        "test=false",
        "model.optimizer.lr=0.001,0.0003",
        "callbacks.rich_progress_bar=null",
        tmp=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]  # the sweep finishes, then names the failure
    assert "DDP runs one job per process" in output and "hydra/launcher=slurm" in output
    assert "1 of 2 jobs failed (jobs 1)" in output
    assert "Traceback" not in output
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert (sweep / "0" / "metrics.json").is_file()  # the first job ran whole, in one folder
    assert not (sweep / "1" / "checkpoints").exists()
