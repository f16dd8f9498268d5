"""experiment=imagenet_subset end to end on a generated fake ILSVRC tree, and ten-crop eval."""

import json

import pytest
import torch

from alexnet_lightning.dataset_tools.imagenet import build_subset
from tests.conftest import TINY_NET
from tests.fake_imagenet import KAGGLE_NAMES, WNIDS, make_source
from tests.runs import only_run_folder, run_script

SMALL = [
    *TINY_NET,
    "data.image_size=64",
    "data.batch_size=4",
    "data.num_workers=0",
    "data.persistent_workers=false",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "callbacks.rich_progress_bar=null",
]


@pytest.fixture(scope="module")
def subset_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("imagenet")
    make_source(tmp / "ILSVRC", "kaggle", n_train=6, n_val=3)
    subset = build_subset(tmp / "ILSVRC", tmp / "subset", list(WNIDS), progress=False, workers=1)
    result = run_script(
        "train.py", "experiment=imagenet_subset", f"data.root={subset}", *SMALL, tmp=tmp
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp, subset, only_run_folder(tmp, "train")


@pytest.mark.slow
def test_subset_trains_and_its_class_names_reach_the_checkpoint(subset_run):
    _, subset, run = subset_run
    manifest = json.loads((subset / "manifest.json").read_text())
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    names = checkpoint["hyper_parameters"]["class_names"]
    assert names == manifest["names"] == [KAGGLE_NAMES[w] for w in WNIDS]
    assert checkpoint["hyper_parameters"]["net"]["num_classes"] == 3  # taken from the data
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"val/acc", "test/acc"} <= set(metrics)


@pytest.mark.slow
def test_ten_crop_eval_reports_beside_single_crop(subset_run, tmp_path):
    _, subset, run = subset_run
    result = run_script(
        "eval.py",
        "data=imagenet_subset",
        f"data.root={subset}",
        "data.num_workers=0",
        "data.batch_size=4",
        "tta=ten_crop",
        f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}",
        tmp=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((only_run_folder(tmp_path, "eval") / "metrics.json").read_text())
    for key in ("test/acc", "test/acc_top5", "test/acc_ten_crop", "test/acc_top5_ten_crop"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["test/acc_top5_ten_crop"] == 1.0  # 3 classes: the top 3 hold every label
