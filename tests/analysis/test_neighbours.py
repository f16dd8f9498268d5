"""Figure 4: nearest training images by features, found in chunks, from a checkpoint."""

from __future__ import annotations

import csv
import shutil

import pytest
import torch
from torch import nn

from alexnet_lightning.analysis.neighbours import LastHiddenFeatures, RunningTopK, spread
from alexnet_lightning.entry.neighbours import neighbours
from alexnet_lightning.errors import ConfigError
from tests.checkpoint_files import write_checkpoint
from tests.conftest import compose_config, write_image_folder
from tests.nets import alexnet


def test_duplicates_of_the_queries_come_first_at_distance_zero():
    bank = torch.randn(50, 7)
    at = [3, 17, 40]
    running = RunningTopK(bank[at].clone(), k=6)
    running.update(bank, torch.arange(50))
    assert running.indices[:, 0].tolist() == at
    assert running.distances[:, 0].tolist() == [0.0, 0.0, 0.0]
    assert (running.distances[:, 1:] > 0).all()
    assert torch.equal(running.payloads[0], running.indices)  # payloads follow their rows
    direct = torch.cdist(bank[at], bank).sort(dim=1)
    assert torch.equal(running.indices, direct.indices[:, :6])


def test_chunked_and_unchunked_results_are_equal():
    bank, queries = torch.randn(103, 16), torch.randn(5, 16)
    images = torch.rand(103, 3, 4, 4)
    whole = RunningTopK(queries, k=6, chunk_size=10_000)
    whole.update(bank, images)
    chunked = RunningTopK(queries, k=6, chunk_size=4)
    for start in range(0, 103, 9):  # batches of 9 split into chunks of 4
        chunked.update(bank[start : start + 9], images[start : start + 9])
    assert torch.equal(chunked.indices, whole.indices)
    assert torch.allclose(chunked.distances, whole.distances)
    assert torch.equal(chunked.payloads[0], whole.payloads[0])
    assert torch.equal(chunked.payloads[0], images[whole.indices])


@pytest.mark.parametrize(("variant", "width"), [("cifar", 64 * 3 * 3), ("half", 2048)])
def test_last_hidden_layer_is_named_per_variant(variant, width):
    net = alexnet(variant, num_classes=4).eval()
    side = 24 if variant == "cifar" else 64
    assert LastHiddenFeatures(net)(torch.rand(2, 3, side, side)).shape == (2, width)


def test_spread_covers_the_split_from_first_to_last():
    assert spread(4, 10) == [0, 3, 6, 9] and spread(5, 3) == [0, 1, 2]


def test_script_finds_copies_of_the_queries_in_the_training_split(tmp_path):
    root = write_image_folder(tmp_path / "folder", ["ant", "bee", "cat"], {"train": 5})
    copies = []
    for cls in ("ant", "bee", "cat"):
        source = sorted((root / "train" / cls).iterdir())[2]
        (root / "val" / cls).mkdir(parents=True)
        shutil.copy(source, root / "val" / cls / source.name)
        copies.append(source.name)
    ckpt = write_checkpoint(tmp_path / "a.ckpt", class_names=["ant", "bee", "cat"])
    overrides = [
        "data=imagefolder",
        f"data.root={root}",
        "data.num_classes=3",
        "data.batch_size=4",
        "data.num_workers=0",
        f"ckpt_path={ckpt}",
        "split=val",
        "queries=3",
        "chunk_size=3",
        "device=cpu",
    ]
    png = neighbours(compose_config("neighbours", overrides, tmp_path))
    assert png.stat().st_size > 0
    with open(png.with_name("neighbours.csv")) as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 3 * 6
    firsts = [r for r in rows if r["rank"] == "1"]
    train_files = sorted(p.name for p in (root / "train").rglob("*.jpg"))  # class, then name
    assert [train_files[int(r["train_index"])] for r in firsts] == copies
    assert [float(r["distance"]) for r in firsts] == [0.0, 0.0, 0.0]
    assert [r["query_class"] for r in firsts] == [r["train_class"] for r in firsts]
    assert list((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*"))


def test_a_network_that_names_no_last_hidden_layer_is_one_clear_error():
    with pytest.raises(ConfigError, match="^Sequential names no last hidden layer.*attribute"):
        LastHiddenFeatures(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)))
