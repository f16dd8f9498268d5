"""The benchmark measures what it says: (2) and (3) consume the same tensors, loader windows
count only batches made while their clock ran, and every data path gets its figure."""

from __future__ import annotations

import json
import os
import time

import pytest
import torch
from hydra import initialize_config_dir
from omegaconf import OmegaConf, open_dict
from torch.utils.data import DataLoader, Dataset

from alexnet_lightning.benchmarks.pipeline import data_path_config, format_table, loader_rates
from alexnet_lightning.benchmarks.timing import (
    Checksums,
    PSSSampler,
    loader_steps,
    pss_mb,
    same_tensors,
    timed_windows,
)
from alexnet_lightning.data.folder_datamodule import ImageFolderDataModule
from alexnet_lightning.dataset_tools.pack import pack_dataset
from alexnet_lightning.errors import ConfigError
from tests.conftest import CONF, compose_config, write_image_folder
from tests.runs import only_run_folder, run_script


class SlowSamples(Dataset):
    """Each sample takes ``delay`` seconds of a worker's time (sleeping: no CPU needed)."""

    def __init__(self, delay: float, length: int = 10_000) -> None:
        self.delay, self.length = delay, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        time.sleep(self.delay)
        return torch.zeros(1), 0


class FilledFirst(DataLoader):
    """A loader whose workers had time to fill its queue before anyone took a batch (as
    after a slow start-up, a compile or validation)."""

    def __iter__(self):
        batches = super().__iter__()
        time.sleep(0.6)  # 8 batches queued by then
        return batches


@pytest.mark.parametrize("drain", [True, False])
def test_loader_windows_do_not_count_prefetched_batches(drain, monkeypatch):
    if not drain:  # windows served from the filled queue: proves this test can fail
        monkeypatch.setattr("alexnet_lightning.benchmarks.timing.queue_depth", lambda loader: 0)
    # 2 workers x 2 samples x 25 ms: at most 2 / 0.05 = 40 batches, 80 images a second
    loader = FilledFirst(SlowSamples(0.025), batch_size=2, num_workers=2, prefetch_factor=4)
    rates = timed_windows(loader_steps(loader), warmup=1, windows=3, per_window=8)
    # a window served from the queue would be far above (the workers' phases may drift a little)
    honest = max(rates) < 80 * 1.25
    assert honest == drain, rates
    assert min(rates) > 10, rates  # and it does measure the workers


def test_checksums_tell_different_batches_apart():
    images = torch.rand(4, 3, 8, 8)
    targets = torch.tensor([0, 1, 2, 3])
    a, b, c = Checksums(), Checksums(), Checksums()
    a.add((images, targets))
    b.add((images.clone(), targets.clone()))
    c.add((images.flip(0), targets))  # same pixels, other order
    assert same_tensors(a, b) and not same_tensors(a, c)
    assert not same_tensors(a, Checksums())  # nothing compared proves nothing


def test_pss_counts_a_shared_page_once_across_processes():
    own = pss_mb(os.getpid())
    assert own > 50  # torch alone
    with open(f"/proc/{os.getpid()}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
    assert own <= rss * 1.01


@pytest.mark.slow
def test_without_psutil_memory_is_not_measured_and_the_table_says_why(benchmark_run, monkeypatch):
    from alexnet_lightning.benchmarks import timing

    monkeypatch.setattr(timing, "psutil", None)
    with timing.PSSSampler(interval=3600) as memory:
        memory.sample()
    assert (memory.main_mb, memory.workers_mb) == (0.0, 0.0) and not timing.pss_available()
    data, _ = benchmark_run
    table = format_table({**data, "peak_pss_mb": timing.NO_PSS})
    assert f"peak PSS: {timing.NO_PSS}" in table.splitlines()
    assert "psutil is not installed" in timing.NO_PSS


def test_worker_memory_is_read_while_a_short_loader_run_has_its_workers(image_folder):
    """A loader run shorter than the sampler's interval falls between two of its readings (0 MB
    of workers on an idle machine); loader_rates reads while they are alive."""
    datamodule = ImageFolderDataModule(
        str(image_folder), num_classes=3, image_size=64, batch_size=2, persistent_workers=True
    )
    datamodule.setup("fit")
    cfg = OmegaConf.create({"warmup_batches": 1, "windows": 1, "window_batches": 2})
    with PSSSampler(interval=3600) as memory:  # one reading at the start, before any worker
        loader_rates(datamodule, 1, cfg, memory)
    assert 10 < memory.workers_mb < memory.main_mb


@pytest.fixture(scope="module")
def benchmark_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    jpegs = write_image_folder(tmp / "jpeg", ["a", "b", "c", "d"], {"train": 12, "val": 4})
    pack_dataset(jpegs, tmp / "packed", 73, workers=1, progress=False)  # 73: 64 x 256/224
    result = run_script(
        "benchmark.py",
        "data=imagefolder",
        f"data.root={jpegs}",
        "data.num_classes=null",
        "data.image_size=64",
        "data.batch_size=8",
        "data.num_workers=1",
        f"packed_root={tmp / 'packed'}",
        f"+data_paths.packed-w0={{group: packed, set: {{root: {tmp / 'packed'}, num_workers: 0}}}}",
        "accelerator=cpu",
        "loader_workers=[0,1]",
        "warmup_batches=2",
        "windows=2",
        "window_batches=2",
        "decode_images=8",
        "memory_epochs=2",
        "memory_workers=1",
        tmp=tmp,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((only_run_folder(tmp, "benchmark") / "benchmark.json").read_text())
    return data, result.stdout


def test_plain_loop_and_trainer_fit_consume_the_same_tensors(benchmark_run):
    data, stdout = benchmark_run
    assert data["same_batches"] is True
    assert data["batches_compared"] == 2 + 2 * 2  # every step of both, warm-up included
    assert data["lightning_spread"]["median"] > 0 and "same batches" in stdout


def test_every_data_path_gets_a_figure_or_a_reason(benchmark_run):
    data, stdout = benchmark_run
    paths = data["data_paths"]
    for name in ("jpeg-cpu", "packed-host"):
        figures = paths[name]
        assert figures["end_to_end"]["median"] > 0 and figures["input"]["median"] > 0
        # end to end cannot beat its own input pipeline by much (timing noise only)
        assert figures["of_input"] < 1.5, (name, figures)
        # set against the plain loop timed right beside it, not minutes before
        beside = figures["plain_beside"]["median"]
        assert figures["of_ceiling"] == figures["end_to_end"]["median"] / beside > 0
        assert figures["plain_timing"] == "before and after"  # its loader has a worker
    # no workers: nothing is made ahead while the plain loop runs, so the two interleave
    interleaved = paths["packed-w0"]
    assert interleaved["plain_timing"] == "interleaved"
    assert interleaved["of_ceiling"] == interleaved["of_plain_by_window"]["median"] > 0
    if not torch.cuda.is_available():
        assert paths["jpeg-gpu"] == {"note": "skipped: needs CUDA"}
        assert paths["packed-device"] == {"note": "skipped: needs CUDA"}
    assert "packed-host: end to end" in stdout


def test_loader_decode_and_worker_memory_figures(benchmark_run):
    data, _ = benchmark_run
    assert set(data["loader_spread"]) == {"0", "1"}
    assert set(data["decode_spread"]["train"]) == {"pil_full", "pil_reduced", "torchvision", "auto"}
    # PSS of the one worker: more than its own interpreter, less than the parent's whole torch
    assert 10 < data["peak_pss_mb"]["workers"] < data["peak_pss_mb"]["main"]
    assert len(data["worker_pss_mb_by_epoch"]) == 2 and min(data["worker_pss_mb_by_epoch"]) > 10


def test_a_data_path_is_a_set_of_data_overrides(tmp_path):
    cfg = compose_config(
        "benchmark", ["data=imagefolder", "data.root=/jpegs", "data.batch_size=24"], tmp_path
    )
    assert data_path_config(cfg, cfg.data_paths["packed-host"]).startswith("skipped: no packed")
    with open_dict(cfg):
        cfg.packed_root = "/packed"
    # a group is composed from the running Hydra app's search path (scripts/benchmark.py's)
    with pytest.raises(ConfigError, match="scripts/benchmark.py"):
        data_path_config(cfg, cfg.data_paths["packed-host"])
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        packed = data_path_config(cfg, cfg.data_paths["packed-host"])
    assert packed._target_.endswith("PackedDataModule") and packed.root == "/packed"
    assert packed.batch_size == 24  # the loader settings carry over
    gpu = data_path_config(cfg, cfg.data_paths["jpeg-gpu"])
    if torch.cuda.is_available():
        assert gpu.decode_on_device is True and gpu.root == "/jpegs"
    else:
        assert gpu == "skipped: needs CUDA"


def test_window_clock_interleaves_another_loop_outside_its_own_windows():
    import lightning as L

    from alexnet_lightning.benchmarks.timing import WindowClock

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 2)

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    calls = []

    def between() -> float:
        calls.append(len(clock.rates))  # windows finished so far
        time.sleep(0.2)  # far longer than a window of this model's steps
        return 1.0

    clock = WindowClock(warmup=2, windows=3, per_window=4, between=between)
    data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.zeros(64))
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=-1,
        max_steps=2 + 3 * 4,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
    )
    trainer.fit(Tiny(), DataLoader(data, batch_size=8))
    assert calls == [0, 1, 2] and clock.between_rates == [1.0] * 3  # one before each window
    # the other loop's time is outside the windows: 32 images in far less than 0.2 s each
    assert len(clock.rates) == 3 and min(clock.rates) > 32 / 0.2
