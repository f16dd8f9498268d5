"""The ImageNet experiments run on a pack with one override (data=packed data.root=...), and
eval.py's ten-crop test reads a pack."""

import json

import pytest
from hydra.utils import instantiate

from alexnet_lightning.data.packed.datamodule import PackedDataModule
from alexnet_lightning.dataset_tools.pack import pack_dataset
from tests.conftest import TINY_NET, compose_config, write_image_folder
from tests.runs import finished_run, only_run_folder, run_script

CLASSES = ["n01", "n02", "n03"]


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pack")
    tree = write_image_folder(tmp / "tree", CLASSES, {"train": 8, "val": 4}, size=(84, 76))
    return pack_dataset(tree, tmp / "packed", side=73, workers=1, progress=False)


# what each experiment asks of the data, and must still get from data=packed
EXPECTED = {
    "imagenet_subset": {"batch_size": 128, "train_crop": "random_resized"},
    "alexnet_paper": {"batch_size": 128, "train_crop": "paper", "lighting_std": 0.1},
    "torchvision_recipe": {"batch_size": 256, "lighting_std": 0.0},
}


@pytest.mark.parametrize("experiment", sorted(EXPECTED))
def test_experiments_compose_with_data_packed(experiment, pack, tmp_path):
    cfg = compose_config(
        "train",
        [f"experiment={experiment}", "data=packed", f"data.root={pack}", "data.image_size=64"],
        tmp_path,
    )
    assert cfg.data._target_.endswith("PackedDataModule")
    for key, value in EXPECTED[experiment].items():
        assert cfg.data[key] == value, key
    module = instantiate(cfg.data)
    assert isinstance(module, PackedDataModule)
    assert module.class_names == CLASSES and module.hparams.image_size == 64


@pytest.mark.slow
def test_alexnet_paper_fits_on_a_pack_and_eval_reports_ten_crop(pack, tmp_path):
    tiny = [
        "data=packed",
        f"data.root={pack}",
        "data.image_size=64",
        "data.batch_size=6",
        "data.num_workers=2",  # the settings users run: workers that stay alive
        "data.persistent_workers=true",
    ]
    train_tmp, eval_tmp = tmp_path / "train", tmp_path / "eval"
    train_tmp.mkdir(), eval_tmp.mkdir()
    run = finished_run(
        "train.py",
        "experiment=alexnet_paper",
        *TINY_NET,
        *tiny,
        "trainer.max_epochs=1",
        "callbacks.rich_progress_bar=null",
        tmp=train_tmp,
    )
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"val/acc", "test/acc"} <= set(metrics)
    result = run_script(
        "eval.py",
        *tiny,
        "split=val",
        "tta=ten_crop",
        f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}",
        tmp=eval_tmp,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads((only_run_folder(eval_tmp, "eval") / "metrics.json").read_text())
    for key in ("test/acc", "test/acc_ten_crop", "test/loss_ten_crop"):
        assert 0.0 <= scores[key] <= 10.0, key
    assert scores["test/acc_top5_ten_crop"] == 1.0  # 3 classes: the top 3 hold every label
    # ten views average to a different loss than the centre crop alone
    assert scores["test/loss_ten_crop"] != pytest.approx(scores["test/loss"], rel=1e-6)
