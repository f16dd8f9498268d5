"""data=packed: packing (deterministic, resumable, bad files listed) and the packed DataModule
(crops equal to the per-image path's, exact resume, DDP sharding, clear errors)."""

import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from alexnet_lightning.data import folder_datamodule as folder_dm
from alexnet_lightning.data.packed.datamodule import PackedDataModule
from alexnet_lightning.data.packed.store import read_packed_manifest
from alexnet_lightning.data.samplers import SeededSamples
from alexnet_lightning.dataset_tools import pack as pack_module
from alexnet_lightning.dataset_tools.pack import pack_dataset
from alexnet_lightning.errors import ConfigError, DataError
from tests.conftest import EXACT_RUN, ROOT, TINY_NET, write_image_folder
from tests.interrupt import assert_killed_run_resumes_bitwise
from tests.runs import (
    HEAVY_MODULES,
    finished_run,
    only_run_folder,
    run_and_list_imports,
    run_script,
)

CLASSES = ["ant", "bee", "cat", "dog"]


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if not p.name.startswith(".")}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    root = write_image_folder(
        tmp_path_factory.mktemp("src") / "tree", CLASSES, {"train": 12, "val": 4}, size=(80, 72)
    )
    names = ["Ant", "Bee", "Cat", "Dog"]
    (root / "manifest.json").write_text(json.dumps({"classes": CLASSES, "names": names}))
    return root


@pytest.fixture(scope="module")
def packed(source, tmp_path_factory) -> Path:
    return pack_dataset(source, tmp_path_factory.mktemp("packed") / "p", side=73, workers=2)


def test_pack_writes_arrays_labels_and_a_manifest_with_the_class_names(packed, source):
    info = read_packed_manifest(packed)
    assert info.names == ["Ant", "Bee", "Cat", "Dog"] and info.classes == CLASSES
    assert info.side == 73 and info.counts == {"train": 48, "val": 16}
    images = np.load(packed / "train_images.npy", mmap_mode="r")
    assert images.shape == (48, 73, 73, 3) and images.dtype == np.uint8
    labels = np.load(packed / "train_labels.npy")
    assert labels.tolist() == [c for c in range(4) for _ in range(12)]
    assert images.std() > 5  # real pixels, not the zeros the file starts as


def test_packing_twice_gives_the_same_bytes(packed, source, tmp_path):
    again = pack_dataset(source, tmp_path / "again", side=73, workers=1, progress=False)
    assert _files(again) == _files(packed)


def test_an_interrupted_pack_resumes_to_the_same_bytes(packed, source, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = pack_module.pack_rows

    def dies_on_the_third_chunk(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(pack_module, "CHUNK", 5)
    monkeypatch.setattr(pack_module, "pack_rows", dies_on_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        pack_dataset(source, tmp_path / "p", side=73, workers=1, progress=False)
    assert not (tmp_path / "p" / "manifest.json").exists()
    done = np.load(tmp_path / "p" / ".train.done.npy")
    assert done.sum() == 10  # two chunks of 5 recorded
    calls["n"] = -100
    monkeypatch.setattr(pack_module, "pack_rows", real)
    # the rerun packs only what is missing
    todo = []
    monkeypatch.setattr(
        pack_module, "pack_rows", lambda a, rows, s: todo.extend(rows) or real(a, rows, s)
    )
    pack_dataset(source, tmp_path / "p", side=73, workers=1, progress=False)
    assert len(todo) == 48 + 16 - 10
    assert _files(tmp_path / "p") == _files(packed)


def test_a_bad_file_is_skipped_and_listed(tmp_path):
    tree = write_image_folder(tmp_path / "t", CLASSES[:2], {"train": 3, "val": 2}, size=(40, 40))
    bad = tree / "train" / "ant" / "ant_001.jpg"
    bad.write_bytes(b"not a jpeg")
    dest = pack_dataset(tree, tmp_path / "p", side=32, workers=1, progress=False)
    info = read_packed_manifest(dest)
    assert info.counts["train"] == 5
    assert [s["path"] for s in info.manifest["skipped"]] == [str(bad)]
    assert "cannot decode" in info.manifest["skipped"][0]["reason"]
    images = np.load(dest / "train_images.npy")
    labels = np.load(dest / "train_labels.npy")
    assert images.shape == (5, 32, 32, 3) and labels.tolist() == [0, 0, 1, 1, 1]
    good = pack_module.preprocess(32)(str(tree / "train" / "ant" / "ant_002.jpg"))
    assert np.array_equal(images[1], good.permute(1, 2, 0).numpy())  # rows closed the gap


def test_bad_sources_and_dests_are_one_clear_message(source, packed, tmp_path):
    with pytest.raises(DataError, match="inside --source"):
        pack_dataset(source, source / "packed", side=32)
    with pytest.raises(DataError, match="inside --dest"):
        pack_dataset(source, source.parent, side=32)
    (tmp_path / "flat").mkdir()
    with pytest.raises(DataError, match="not an ImageFolder tree"):
        pack_dataset(tmp_path / "flat", tmp_path / "out", side=32)
    (tmp_path / "flat" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="neither an empty folder nor an earlier build"):
        pack_dataset(source, tmp_path / "flat", side=32)
    with pytest.raises(DataError, match="Use another --dest"):  # its rows would mix both sides
        pack_dataset(source, packed, side=32)


def test_a_missing_or_unpacked_root_names_pack_dataset(source, tmp_path):
    for root in (tmp_path / "nowhere", source):
        with pytest.raises(DataError, match="pack_dataset.py"):
            PackedDataModule(str(root)).inspect()


def test_a_wrong_num_classes_is_one_clear_message(packed):
    with pytest.raises(DataError, match="data.num_classes=3 but .* has 4 classes"):
        PackedDataModule(str(packed), num_classes=3).inspect()


def test_num_classes_null_takes_count_and_names_from_the_manifest(packed):
    module = PackedDataModule(str(packed), num_classes=None, image_size=64)
    assert module.class_names == ["Ant", "Bee", "Cat", "Dog"]
    assert len(module.inspect().classes) == 4


@pytest.mark.parametrize(
    ("key", "value"), [("decoder", "pil"), ("cache_decoded", True), ("decode_on_device", True)]
)
def test_a_file_option_set_for_a_pack_is_one_clear_message(packed, key, value, tmp_path):
    message = rf"^data.{key}={value!r} does not apply to a packed dataset, .*; drop it"
    with pytest.raises(ConfigError, match=message):
        PackedDataModule(str(packed), **{key: value})
    # imagefolder.yaml's own values (data=packed composes that file) ask for nothing: accepted
    idle = PackedDataModule(str(packed), image_size=64, decoder="auto", cache_decoded=False)
    assert idle.class_names == ["Ant", "Bee", "Cat", "Dog"]
    if key == "decoder":  # through train.py: exit 2 in a second, before torch is imported
        result, imported = run_and_list_imports(
            "train.py", "data=packed", f"data.root={packed}", f"data.{key}={value}", tmp=tmp_path
        )
        output = result.stdout + result.stderr
        assert result.returncode == 2 and "does not apply to a packed dataset" in output, output
        assert "Traceback" not in output and not imported & HEAVY_MODULES


def _batch(module: PackedDataModule, keys) -> tuple:
    return module.datasets["train"].__getitems__(keys)


@pytest.mark.parametrize("in_loader", [False, True], ids=["on_device", "in_loader"])
def test_packed_paper_crops_equal_the_per_image_path_bitwise(packed, source, in_loader):
    options = {"image_size": 64, "train_crop": "paper", "lighting_std": 0.0}
    module = PackedDataModule(str(packed), crop_in_loader=in_loader, **options)
    module.setup("fit")
    keys = [(i, 1000 + 7 * i) for i in (5, 0, 47, 12, 30)]
    images, targets, _, draws = _batch(module, keys)
    on_device = not in_loader
    crops = module._crop(images.permute(0, 3, 1, 2), draws, split="train") if on_device else images
    # the per-image path: ImageFolderDataModule's worker transform under the same seeds
    reference = folder_dm.ImageFolderDataModule(str(source), **options)
    reference.setup("fit")
    per_image = SeededSamples(reference.datasets["train"])
    expected = torch.stack([per_image[key][0] for key in keys])
    assert torch.equal(crops, expected)
    assert targets.tolist() == [per_image[key][1] for key in keys]


def test_cpu_random_resized_crops_in_the_loader_are_torchvisions_exact_pixels(packed):
    module = PackedDataModule(str(packed), image_size=64, crop_scale=(0.3, 1.0))
    module.setup("fit")  # no trainer: the CPU, so the loader crops
    keys = [(i, 31 * i + 5) for i in (3, 40, 0, 22, 9, 17)]
    crops, targets, rows, draws = _batch(module, keys)
    assert crops.shape == (6, 3, 64, 64) and crops.is_contiguous(memory_format=torch.channels_last)
    square = torch.from_numpy(np.load(packed / "train_images.npy")).permute(0, 3, 1, 2)
    crop = v2.RandomResizedCrop(64, scale=(0.3, 1.0), ratio=(3 / 4, 4 / 3), antialias=True)
    for got, (row, seed) in zip(crops, keys, strict=True):
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            assert torch.equal(got, crop(square[row]))
    assert len({tuple(d) for d in draws.tolist()}) == 6  # the seeds draw different boxes


@pytest.mark.parametrize("in_loader", [False, True], ids=["on_device", "in_loader"])
def test_batches_are_the_same_with_loader_workers(packed, in_loader):
    def batches(workers: int) -> list:
        module = PackedDataModule(
            str(packed),
            image_size=64,
            batch_size=8,
            num_workers=workers,
            persistent_workers=True,
            crop_in_loader=in_loader,
        )
        module.setup("fit")
        return [b for _, b in zip(range(3), module.train_dataloader(), strict=False)]

    for (a_img, a_t, a_rows, a_draws), (b_img, b_t, b_rows, b_draws) in zip(
        batches(0), batches(2), strict=True
    ):
        assert torch.equal(a_img, b_img) and torch.equal(a_draws, b_draws)
        assert torch.equal(a_t, b_t) and torch.equal(a_rows, b_rows)
        assert a_img.shape == ((8, 3, 64, 64) if in_loader else (8, 73, 73, 3))
        assert a_draws.shape == (8, 4)


# --- through scripts/train.py ----------------------------------------------------------------
RUN = [
    *EXACT_RUN,
    *TINY_NET,
    "data=packed",
    "data.image_size=64",
    "data.batch_size=8",
    "data.num_workers=0",
    "data.persistent_workers=false",
]


def _train(*overrides: str, tmp: Path, root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), f"paths.log_dir={tmp / 'logs'}"]
    command += [*RUN, f"data.root={root}", *overrides]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp, env=env)
    time.sleep(1.01)  # run folders are named by the second
    return result


@pytest.mark.slow
def test_killed_mid_epoch_resumes_bitwise_with_data_packed(packed, tmp_path):
    run = functools.partial(_train, root=packed)
    assert_killed_run_resumes_bitwise(run, tmp_path, "PackedDataModule")


@pytest.mark.slow
def test_ddp_cpu_with_data_packed_matches_one_process(source, tmp_path):
    # 15 validation images (odd): two ranks get unpadded shards of 8 and 7
    tree = write_image_folder(tmp_path / "t", CLASSES[:3], {"train": 8, "val": 5}, size=(72, 72))
    root = pack_dataset(tree, tmp_path / "packed", side=72, workers=1, progress=False)
    tiny = [
        "data=packed",
        f"data.root={root}",
        "data.image_size=64",
        "data.batch_size=4",
        "data.num_workers=0",
        "data.persistent_workers=false",
    ]
    ddp_tmp = tmp_path / "ddp"
    ddp_tmp.mkdir()
    run = finished_run(
        "train.py",
        *tiny,
        "trainer=ddp_cpu",
        "trainer.max_epochs=1",
        "seed=0",
        "callbacks.rich_progress_bar=null",
        tmp=ddp_tmp,
    )
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=True)["global_step"] == 3
    ddp = json.loads((run / "metrics.json").read_text())
    eval_tmp = tmp_path / "eval"
    eval_tmp.mkdir()
    single = run_script(
        "eval.py", *tiny, "split=val", f"ckpt_path={run / 'checkpoints/best.ckpt'}", tmp=eval_tmp
    )
    assert single.returncode == 0, single.stderr[-3000:]
    one = json.loads((only_run_folder(eval_tmp, "eval") / "metrics.json").read_text())
    assert ddp["val/acc"] == pytest.approx(one["test/acc"], abs=1e-7)
    assert ddp["val/loss"] == pytest.approx(one["test/loss"], rel=1e-5)


@pytest.mark.slow
def test_benchmark_subset_pack_times_both_loaders(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, str(ROOT / "scripts" / "benchmark_subset.py"), "--pack"]
    command += ["--classes", "2", "--per-class", "8", "--size", "64x48", "--image-size", "32"]
    command += ["--pack-side", "40", "--workers", "1", "--batch-size", "4"]
    command += ["--rounds", "2", "--epochs", "1", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert len(figures["loader_jpeg_img_s"]) == len(figures["loader_packed_img_s"]) == 2
    assert all(rate > 0 for rate in figures["loader_jpeg_img_s"] + figures["loader_packed_img_s"])
    packed, jpeg = figures["loader_packed_img_s"], figures["loader_jpeg_img_s"]
    ratios = [p / j for p, j in zip(packed, jpeg, strict=True)]
    assert figures["packed_over_jpeg"] == pytest.approx(ratios)
