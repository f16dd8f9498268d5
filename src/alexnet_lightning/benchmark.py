"""Throughput on the current machine: the loader, the plain training loop, Lightning, end to end.

Every figure is the median images/s of several timed windows after a warm-up, with the spread
(min, max) beside it, so one slow window (a page fault, another process) does not decide it.
"""

from __future__ import annotations

import itertools
import math
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from torch.utils.data import DataLoader

from alexnet_lightning.config_checks import check_config
from alexnet_lightning.data.device_decode import BatchDecoder, is_encoded_batch
from alexnet_lightning.errors import ConfigError
from alexnet_lightning.utils.run_files import write_json


def summarise(rates: list[float]) -> dict[str, float]:
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}


class RSSSampler:
    """Peak resident memory of this process and, separately, of all its children together.

    The kernel keeps a peak for each process but none for a sum over loader workers, so this
    reads /proc every few milliseconds (Linux; elsewhere it reports the parent only).
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval, self.main_mb, self.workers_mb = interval, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss_mb(pid: int) -> float:
        try:
            with open(f"/proc/{pid}/statm") as file:
                return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            return 0.0

    @staticmethod
    def _children(pid: int) -> list[int]:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as file:
                return [int(c) for c in file.read().split()]
        except OSError:
            return []

    def _run(self) -> None:
        pid = os.getpid()
        while not self._stop.is_set():
            self.main_mb = max(self.main_mb, self._rss_mb(pid))
            self.workers_mb = max(
                self.workers_mb, sum(self._rss_mb(c) for c in self._children(pid))
            )
            time.sleep(self.interval)

    def __enter__(self) -> RSSSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _no_sync() -> None:
    pass


def device_sync(device: torch.device) -> Callable[[], None]:
    """Waits for queued GPU work, so a window's clock stops when its steps are done."""
    return torch.cuda.synchronize if device.type == "cuda" else _no_sync


def timed_windows(
    batches: Iterator[int],
    warmup: int,
    windows: int,
    per_window: int,
    sync: Callable[[], None] = _no_sync,
) -> list[float]:
    """Images/s of each window; ``batches`` yields the batch size of each step as it finishes."""
    for _ in range(warmup):
        next(batches)
    rates = []
    for _ in range(windows):
        sync()
        start, images = time.perf_counter(), 0
        for _ in range(per_window):
            images += next(batches)
        sync()
        rates.append(images / (time.perf_counter() - start))
    return rates


def _endless(loader: DataLoader) -> Iterator[Any]:
    while True:
        yield from loader


def loader_rates(datamodule: Any, workers: int, cfg: DictConfig) -> list[float]:
    datamodule.hparams.num_workers = workers
    loader = datamodule.train_dataloader()
    batches = (len(batch[-1]) for batch in _endless(loader))  # targets: encoded batches too
    return timed_windows(batches, cfg.warmup_batches, cfg.windows, cfg.window_batches)


AUTOCAST_DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def plain_loop_rates(model: Any, batches: list, cfg: DictConfig) -> list[float]:
    """(2) The compute ceiling: forward, loss, backward, optimizer step; no framework.

    Honours the same switches Trainer.fit gets (precision, model.channels_last, model.compile),
    written out in plain PyTorch, so the ratio to (3) is the framework's cost alone.
    """
    device = batches[0][0].device
    optimizer = instantiate(model.hparams.optimizer)(params=model.parameters())
    model.train()
    if cfg.model.get("channels_last", False):
        model.to(memory_format=torch.channels_last)
        batches = [(x.contiguous(memory_format=torch.channels_last), y) for x, y in batches]
    forward = torch.compile(model) if cfg.model.get("compile", False) else model
    dtype = AUTOCAST_DTYPES.get(str(cfg.precision))
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    def steps() -> Iterator[int]:
        while True:
            for images, targets in batches:
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    loss = model.criterion(forward(images), targets)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                yield images.shape[0]

    return timed_windows(
        steps(), cfg.warmup_batches, cfg.windows, cfg.window_batches, device_sync(device)
    )


def _timed_steps(cfg: DictConfig) -> int:
    return cfg.warmup_batches + cfg.windows * cfg.window_batches


class _StepClock(L.Callback):
    """Time stamps of finished training batches inside Trainer.fit."""

    def __init__(self) -> None:
        self.stamps: list[tuple[float, int]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        device_sync(pl_module.device)()
        self.stamps.append((time.perf_counter(), batch[0].shape[0]))


def lightning_rates(
    model: Any, train_data: Any, cfg: DictConfig, datamodule: Any = None
) -> list[float]:
    """(3)/(4) Trainer.fit over the given batches or DataModule, timed per window of steps."""
    clock = _StepClock()
    steps = _timed_steps(cfg)
    trainer = L.Trainer(
        accelerator=cfg.accelerator,
        devices=1,
        precision=cfg.precision,
        max_steps=steps,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[clock],
    )
    model.hparams.scheduler = None  # the schedule is no part of the speed
    if datamodule is not None:
        trainer.fit(model, datamodule=datamodule)
    else:
        trainer.fit(model, train_dataloaders=train_data)
    stamps = clock.stamps[cfg.warmup_batches - 1 :]
    rates = []
    for w in range(cfg.windows):
        window = stamps[w * cfg.window_batches : (w + 1) * cfg.window_batches + 1]
        images = sum(n for _, n in window[1:])
        rates.append(images / (window[-1][0] - window[0][0]))
    return rates


DECODE_CASES = {  # name -> (data.decoder, data.reduced_decode)
    "pil_full": ("pil", False),
    "pil_reduced": ("pil", True),
    "torchvision": ("torchvision", True),
    "auto": ("auto", True),
}


def decode_rates(datamodule: Any, split: str, cfg: DictConfig) -> dict[str, dict[str, float]]:
    """Decode + crop of one file at a time in one thread, as a loader worker does it, for each
    decoder: the measurement behind ``data.decoder=auto``."""
    files = datamodule.datasets[split]
    count = min(len(files), cfg.decode_images)
    paths = [str(files.split_dir / files.paths[i]) for i in range(count)]
    hp = datamodule.hparams
    saved = (hp.decoder, hp.reduced_decode, torch.get_num_threads())
    torch.set_num_threads(1)  # what DataLoader gives each worker
    rates = {}
    try:
        for name, (decoder, reduced) in DECODE_CASES.items():
            hp.decoder, hp.reduced_decode = decoder, reduced
            transform = datamodule._file_transform(split)
            images = _one_per_file(transform, paths)
            per_window = max(1, count // cfg.windows)
            rates[name] = summarise(timed_windows(images, 1, cfg.windows, per_window))
    finally:
        hp.decoder, hp.reduced_decode = saved[0], saved[1]
        torch.set_num_threads(saved[2])
    return rates


def _one_per_file(transform: Callable[[str], Any], paths: list[str]) -> Iterator[int]:
    for path in itertools.cycle(paths):
        transform(path)
        yield 1


def worker_memory_by_epoch(datamodule: Any, workers: int, epochs: int) -> list[float]:
    """Resident memory of all loader workers together after each full epoch, with persistent
    workers: it stays flat unless touching the sample list copies it page by page."""
    hp = datamodule.hparams
    saved = (hp.num_workers, hp.persistent_workers)
    hp.num_workers, hp.persistent_workers = workers, True
    loader = datamodule.train_dataloader()
    per_epoch = []
    try:
        for _ in range(epochs):
            for _ in loader:
                pass
            pids = RSSSampler._children(os.getpid())
            per_epoch.append(sum(RSSSampler._rss_mb(pid) for pid in pids))
    finally:
        del loader  # shuts the workers down
        hp.num_workers, hp.persistent_workers = saved
    return per_epoch


def _in_memory_batches(datamodule: Any, count: int, device: torch.device) -> list:
    """Real batches, augmented as in training, kept on the device: a loader that costs 0."""
    loader = datamodule.train_dataloader()
    batches = []
    decode = BatchDecoder(datamodule._image_transform("train"), "warn")
    for batch in _endless(loader):
        if is_encoded_batch(batch):  # data.decode_on_device: files, decoded as fit would
            batch = decode(batch, device)
        images, targets = batch
        images = datamodule.augment(images.to(device), train=True)
        batches.append((images, targets.to(device)))
        if len(batches) == count:
            return batches
    raise AssertionError("unreachable")


class _Preloaded(torch.utils.data.Dataset):
    """The in-memory batches, repeated to ``length``: the whole timed run is one epoch, as the
    plain loop's is, so epoch-end work (metrics, loader restart) is not part of figure (3)."""

    def __init__(self, batches: list, length: int) -> None:
        self.batches, self.length = batches, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Any:
        return self.batches[index % len(self.batches)]


def run_benchmark(cfg: DictConfig) -> dict[str, Any]:
    """All five measurements; writes ``benchmark.json`` into the run folder and returns it."""
    check_config(cfg)
    if cfg.windows < 1 or cfg.window_batches < 1 or cfg.warmup_batches < 1:
        raise ConfigError("windows, window_batches and warmup_batches must be >= 1")
    if cfg.accelerator == "auto":
        with open_dict(cfg):
            cfg.accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    device = torch.device("cuda" if cfg.accelerator in ("gpu", "cuda") else "cpu")
    L.seed_everything(cfg.seed, workers=True)
    with open_dict(cfg):
        cfg.data.persistent_workers = False  # workers must exit to be measured per worker count
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    info = datamodule.inspect()
    with open_dict(cfg):
        cfg.data.num_classes = len(info.classes)
    datamodule.setup("fit")
    workers = list(cfg.loader_workers) if cfg.loader_workers else list(range(os.cpu_count() + 1))
    chosen_workers = int(cfg.data.num_workers)

    result: dict[str, Any] = {"settings": OmegaConf.to_container(cfg, resolve=True)}
    with RSSSampler() as memory:
        loader = {w: summarise(loader_rates(datamodule, w, cfg)) for w in workers}
        result["loader_img_s"] = {str(w): r["median"] for w, r in loader.items()}
        result["loader_spread"] = {str(w): r for w, r in loader.items()}
        if cfg.decode_images > 0:
            datamodule.setup("validate")
            decode = {split: decode_rates(datamodule, split, cfg) for split in ("train", "val")}
            result["decode_img_s"] = {
                split: {name: r["median"] for name, r in rates.items()}
                for split, rates in decode.items()
            }
            result["decode_spread"] = decode
        datamodule.hparams.num_workers = 0
        batches = _in_memory_batches(datamodule, cfg.window_batches, device)
        plain_model = instantiate(cfg.model, class_names=info.names).to(device)
        plain = plain_loop_rates(plain_model, batches, cfg)
        model = instantiate(cfg.model, class_names=info.names)
        preloaded = DataLoader(
            _Preloaded([(x.cpu(), y.cpu()) for x, y in batches], _timed_steps(cfg) + 1),
            batch_size=None,
            shuffle=False,
        )
        lightning = summarise(lightning_rates(model, preloaded, cfg))
        # The plain loop again after Lightning: on a machine whose speed drifts (shared cores),
        # windows on both sides keep the drift out of the overhead figure.
        compute = summarise(plain + plain_loop_rates(plain_model, batches, cfg))
        datamodule.hparams.num_workers = chosen_workers
        model = instantiate(cfg.model, class_names=info.names)
        end_to_end = summarise(lightning_rates(model, None, cfg, datamodule=datamodule))
        if cfg.memory_epochs > 0:
            memory_workers = cfg.memory_workers or os.cpu_count() or 1
            result["worker_rss_mb_by_epoch"] = worker_memory_by_epoch(
                datamodule, memory_workers, cfg.memory_epochs
            )
            result["memory_workers"] = memory_workers
    ceiling = min(compute["median"], result["loader_img_s"].get(str(chosen_workers), math.inf))
    result.update(
        {
            "compute_img_s": compute["median"],
            "compute_spread": compute,
            "lightning_img_s": lightning["median"],
            "lightning_spread": lightning,
            "lightning_overhead": compute["median"] / lightning["median"] - 1,
            "end_to_end_img_s": end_to_end["median"],
            "end_to_end_spread": end_to_end,
            "end_to_end_workers": chosen_workers,
            # (4) / min(loader at the chosen workers, compute): the 90% target
            "end_to_end_of_ceiling": end_to_end["median"] / ceiling,
            "peak_rss_mb": {"main": memory.main_mb, "workers": memory.workers_mb},
        }
    )
    write_json(Path(cfg.paths.output_dir) / "benchmark.json", result)
    return result


def format_table(result: dict[str, Any]) -> str:
    """The figures as the README shows them."""

    def row(name: str, spread: dict[str, float]) -> str:
        return f"| {name} | {spread['median']:.0f} | {spread['min']:.0f}-{spread['max']:.0f} |"

    lines = ["| measurement | images/s (median) | spread (min-max) |", "| --- | --- | --- |"]
    lines += [row(f"loader, {w} workers", s) for w, s in result["loader_spread"].items()]
    lines.append(row("plain PyTorch loop (compute ceiling)", result["compute_spread"]))
    lines.append(row("Trainer.fit, same batches", result["lightning_spread"]))
    lines.append(
        row(
            f"Trainer.fit end to end, {result['end_to_end_workers']} workers",
            result["end_to_end_spread"],
        )
    )
    for split, rates in result.get("decode_spread", {}).items():
        lines += [row(f"decode + crop, {split}, {name}, 1 thread", s) for name, s in rates.items()]
    lines.append(
        f"\nLightning overhead: {100 * result['lightning_overhead']:.1f}%; end to end: "
        f"{100 * result['end_to_end_of_ceiling']:.0f}% of min(loader, compute); peak RSS: "
        f"main {result['peak_rss_mb']['main']:.0f} MB, "
        f"workers together {result['peak_rss_mb']['workers']:.0f} MB"
    )
    if "worker_rss_mb_by_epoch" in result:
        by_epoch = ", ".join(f"{mb:.0f}" for mb in result["worker_rss_mb_by_epoch"])
        lines.append(
            f"RSS of {result['memory_workers']} persistent workers after each epoch: {by_epoch} MB"
        )
    return "\n".join(lines)
