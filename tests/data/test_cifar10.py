"""data=cifar10 against a small archive in the official format, served over a local URL."""

import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from alexnet_lightning.config_checks import check_config, check_value
from alexnet_lightning.data.cifar10.archive import read_archive
from alexnet_lightning.data.cifar10.datamodule import COMMAND, Cifar10DataModule, pack_folder
from alexnet_lightning.data.datamodule import standalone_trainer
from alexnet_lightning.data.packed.datamodule import PackedDataModule
from alexnet_lightning.dataset_tools.pack import pack_dataset
from alexnet_lightning.dataset_tools.synthetic_cifar10 import CLASSES, write_cifar10_archive
from alexnet_lightning.errors import ConfigError, DataError
from tests.conftest import EXACT_RUN, ROOT, compose_config, write_image_folder
from tests.interrupt import assert_killed_run_resumes_bitwise

ARCHIVE = "cifar-10-python.tar.gz"
PER_BATCH, TEST, VAL = 12, 10, 12  # 60 training images: 48 train + 12 val
LOADER = {"batch_size": 8, "num_workers": 0, "persistent_workers": False}


class Server:
    """A folder served on 127.0.0.1, counting the downloads of each file."""

    def __init__(self, folder: Path) -> None:
        self.requests: dict[str, int] = {}
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                if self.headers.get("Method") == "HEAD":  # torchvision's redirect probe
                    body = self.send_head()
                    if body is not None:
                        body.close()
                    return
                name = self.path.lstrip("/")
                server.requests[name] = server.requests.get(name, 0) + 1
                super().do_GET()

            def log_message(self, *args):
                pass

        handler = functools.partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, name: str = ARCHIVE) -> str:
        return f"{self.base}/{name}"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    md5 = write_cifar10_archive(folder / ARCHIVE, per_batch=PER_BATCH, test=TEST, seed=0)
    server = Server(folder)
    yield server, md5, folder / ARCHIVE
    server.httpd.shutdown()


def datamodule(tmp: Path, url: str, md5: str, **options) -> Cifar10DataModule:
    args = {"val_size": VAL, "image_size": 24, "train_crop": "paper", **LOADER}
    args["eval_resize_ratio"] = 32 / 24
    return Cifar10DataModule(
        str(tmp / "cifar10"), archive_dir=str(tmp), url=url, md5=md5, **{**args, **options}
    )


@pytest.fixture(scope="module")
def prepared(served, tmp_path_factory):
    """The archive downloaded and packed once, in a data folder the runs below share."""
    server, md5, _ = served
    data = tmp_path_factory.mktemp("data")
    dm = datamodule(data, server.url(), md5)
    dm.prepare_data()
    return dm, data


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{ARCHIVE}"


def test_download_packs_the_split_and_is_not_repeated(served, prepared, tmp_path):
    server, md5, source = served
    dm, data = prepared
    assert (data / ARCHIVE).is_file() and server.requests[ARCHIVE] == 1
    info = dm.inspect()
    assert info.split_sizes == {"train": 48, "val": 12, "test": 10}
    assert info.classes == list(CLASSES)
    # val: VAL images drawn by the split seed, train the rest, both in archive order
    reference = read_archive(source, md5)
    val = np.sort(np.random.default_rng(0).permutation(5 * PER_BATCH)[:VAL])
    train = np.setdiff1d(np.arange(5 * PER_BATCH), val)
    folder = pack_folder(data / "cifar10", VAL, 0)
    for split, rows, images, labels in (
        ("train", train, reference.train_images, reference.train_labels),
        ("val", val, reference.train_images, reference.train_labels),
        ("test", slice(None), reference.test_images, reference.test_labels),
    ):
        np.testing.assert_array_equal(np.load(folder / f"{split}_images.npy"), images[rows])
        np.testing.assert_array_equal(np.load(folder / f"{split}_labels.npy"), labels[rows])
    # a second module, and a second call, find the pack: nothing is downloaded again
    again = datamodule(data, server.url(), md5)
    again.prepare_data()
    dm.prepare_data()
    assert server.requests[ARCHIVE] == 1
    # another split seed packs again from the archive already there
    other = datamodule(data, server.url(), md5, split_seed=1)
    other.prepare_data()
    assert server.requests[ARCHIVE] == 1
    other_val = np.load(pack_folder(data / "cifar10", VAL, 1) / "val_labels.npy")
    assert len(other_val) == VAL and other.inspect().split_sizes == info.split_sizes


def test_the_papers_crop_random_24_of_32_for_training_centre_24_for_eval(prepared):
    dm, data = prepared
    pixels = torch.from_numpy(np.load(dm.root / "val_images.npy")).permute(0, 3, 1, 2)
    dm.trainer = standalone_trainer("cpu", training=False)
    dm.setup("fit")
    images, _, rows, _ = next(iter(dm.val_dataloader()))  # the loader crops on the CPU
    assert images.shape == (8, 3, 24, 24) and rows.tolist() == list(range(8))
    assert torch.equal(images, pixels[:8, :, 4:28, 4:28])
    train_pixels = torch.from_numpy(np.load(dm.root / "train_images.npy")).permute(0, 3, 1, 2)
    dm.trainer = standalone_trainer("cpu", training=True)
    images, _, rows, draws = next(iter(dm.train_dataloader()))
    assert images.shape == (8, 3, 24, 24) and draws.shape == (8, 2)
    for crop, row, (top, left) in zip(images, rows, draws.tolist(), strict=True):
        assert 0 <= top <= 8 and 0 <= left <= 8
        assert torch.equal(crop, train_pixels[row, :, top : top + 24, left : left + 24])
    assert len({tuple(d) for d in draws.tolist()}) > 1


def test_image_size_above_32_upsamples_for_alexnet_variants(prepared):
    dm, data = prepared
    big = datamodule(data, dm.source["url"], dm.source["md5"], image_size=64)
    big.trainer = standalone_trainer("cpu", training=False)
    big.setup("fit")
    x, _ = big.on_after_batch_transfer(next(iter(big.val_dataloader())), 0)
    assert x.shape == (8, 3, 64, 64) and x.dtype == torch.float32


def test_a_corrupt_download_is_set_aside_and_nothing_is_used(served, tmp_path):
    server, md5, _ = served
    before = server.requests.get(ARCHIVE, 0)
    dm = datamodule(tmp_path, server.url(), "0" * 32)
    with pytest.raises(DataError) as raised:
        dm.prepare_data()
    message = str(raised.value)
    assert "fails its md5 check" in message and "\n" not in message
    kept = tmp_path / f"{ARCHIVE}.corrupt"
    assert kept.is_file() and f"moved to {kept}" in message
    assert (
        not (tmp_path / ARCHIVE).exists() and not pack_folder(tmp_path / "cifar10", VAL, 0).exists()
    )
    assert server.requests[ARCHIVE] == before + 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_corrupt_archive_in_place_is_set_aside_without_downloading(served, tmp_path):
    server, md5, source = served
    (tmp_path / ARCHIVE).write_bytes(source.read_bytes()[:1000])  # truncated
    before = server.requests.get(ARCHIVE, 0)
    with pytest.raises(DataError, match="the found CIFAR-10 archive .* fails its md5 check"):
        datamodule(tmp_path, server.url(), md5).prepare_data()
    assert server.requests.get(ARCHIVE, 0) == before
    assert (tmp_path / f"{ARCHIVE}.corrupt").stat().st_size == 1000
    assert not pack_folder(tmp_path / "cifar10", VAL, 0).exists()
    # a second bad copy is set aside beside the first, which stays
    (tmp_path / ARCHIVE).write_bytes(b"not gzip")
    with pytest.raises(DataError, match=f"moved to {tmp_path / ARCHIVE}.corrupt.1;"):
        datamodule(tmp_path, server.url(), md5).prepare_data()
    assert (tmp_path / f"{ARCHIVE}.corrupt").stat().st_size == 1000


def test_offline_names_the_url_and_the_command(tmp_path):
    url = closed_port_url()
    with pytest.raises(DataError) as raised:
        datamodule(tmp_path, url, "0" * 32).prepare_data()
    message = str(raised.value)
    assert f"cannot download CIFAR-10 from {url}" in message
    assert "python scripts/train.py experiment=cifar10" in message
    assert f"curl -L -o {tmp_path / ARCHIVE} {url}" in message
    assert [p.name for p in tmp_path.iterdir()] == ["cifar10"]  # no partial download left
    assert not pack_folder(tmp_path / "cifar10", VAL, 0).exists()


def test_val_size_larger_than_the_training_set_names_the_key(served, tmp_path):
    server, md5, _ = served
    with pytest.raises(ConfigError, match=r"^data.val_size=60 is invalid: .* the 60 CIFAR-10"):
        datamodule(tmp_path, server.url(), md5, val_size=60).prepare_data()
    # the official archive's size is known: refused before anything is downloaded
    official = Cifar10DataModule(
        str(tmp_path / "c"), str(tmp_path), url=closed_port_url(), val_size=50_000
    )
    with pytest.raises(ConfigError, match="data.val_size=50000 is invalid"):
        official.prepare_data()
    with pytest.raises(ConfigError, match="data.val_size=0 is invalid"):
        check_value("data.val_size", 0)


def train(*overrides: str, tmp: Path, data: Path, md5: str, url: str):
    env = {**os.environ}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        str(ROOT / "scripts" / "train.py"),
        "data=cifar10",
        "model.net.variant=cifar",
        f"paths.data_dir={data}",
        f"paths.log_dir={tmp / 'logs'}",
        f"data.url={url}",
        f"data.md5={md5}",
        f"data.val_size={VAL}",
        "data.batch_size=8",
        "data.num_workers=0",
        "data.persistent_workers=false",
        *EXACT_RUN,
        *overrides,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp, env=env)
    time.sleep(1.01)  # run folders are named by the second
    return result


@pytest.mark.slow
def test_killed_mid_epoch_resumes_bitwise_with_data_cifar10(served, prepared, tmp_path):
    server, md5, _ = served
    _, data = prepared
    run = functools.partial(train, data=data, md5=md5, url=server.url())
    downloads = server.requests[ARCHIVE]
    assert_killed_run_resumes_bitwise(run, tmp_path, "Cifar10DataModule")
    assert server.requests[ARCHIVE] == downloads  # the runs found the pack


@pytest.mark.slow
def test_offline_train_run_is_one_line_and_exit_status_2(tmp_path):
    url = closed_port_url()
    result = train(tmp=tmp_path, data=tmp_path / "data", md5="0" * 32, url=url)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    errors = [line for line in output.splitlines() if "[ERROR]" in line and "CIFAR-10" in line]
    assert len(errors) == 1 and "Traceback" not in output
    assert "cannot download CIFAR-10" in errors[0] and url in errors[0]


def test_a_tree_of_small_images_packs_and_crops_like_cifar10(tmp_path):
    tree = write_image_folder(tmp_path / "t", ["a", "b"], {"train": 6, "val": 4}, size=(32, 32))
    root = pack_dataset(tree, tmp_path / "packed", side=32, workers=1, progress=False)
    dm = PackedDataModule(
        str(root), image_size=24, train_crop="paper", eval_resize_ratio=32 / 24, **LOADER
    )
    dm.trainer = standalone_trainer("cpu", training=False)
    dm.setup("fit")
    images = next(iter(dm.val_dataloader()))[0]
    pixels = torch.from_numpy(np.load(root / "val_images.npy")).permute(0, 3, 1, 2)
    assert torch.equal(images, pixels[:8, :, 4:28, 4:28])


@pytest.mark.slow
def test_synthetic_archive_script_prints_the_md5_torchvision_then_accepts(tmp_path):
    script = ROOT / "scripts" / "synthetic_cifar10.py"
    command = [sys.executable, str(script), "--dest", str(tmp_path), "--per-batch", "4"]
    result = subprocess.run([*command, "--test", "2"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    md5 = result.stdout.split("md5 ")[1].strip()
    arrays = read_archive(tmp_path / ARCHIVE, md5)  # torchvision's reader
    assert arrays.train_images.shape == (20, 32, 32, 3) and arrays.test_images.shape == (
        2,
        32,
        32,
        3,
    )
    assert arrays.train_images.dtype == np.uint8 and arrays.classes == list(CLASSES)
    bad = subprocess.run([*command[:2], "--dest", "/proc/no"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --dest /proc/no: cannot write")


def test_the_offline_messages_command_runs_as_printed(tmp_path):
    script, *overrides = COMMAND.split()[1:]
    assert script == "scripts/train.py"
    # data=cifar10 alone stops on the crop size; experiment=cifar10 does not
    check_config(compose_config("train", overrides, tmp_path))
