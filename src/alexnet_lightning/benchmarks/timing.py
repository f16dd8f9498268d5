"""Measuring images/s honestly: timed windows, device syncs only at window edges, loader queues
drained before the clock starts, and proportional (PSS) memory of loader workers (psutil)."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import lightning as L
import torch

try:
    import psutil
except ImportError:  # the GPU machine's bare python may lack it: memory is then not measured
    psutil = None

#: Why the memory figures are missing, when they are.
NO_PSS = "not measured: psutil is not installed (pip install psutil)"


def pss_available() -> bool:
    return psutil is not None


def summarise(rates: list[float]) -> dict[str, float]:
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}


def _no_sync() -> None:
    pass


def device_sync(device: torch.device) -> Callable[[], None]:
    """Waits for queued GPU work, so a window's clock stops when its steps are done."""
    return torch.cuda.synchronize if device.type == "cuda" else _no_sync


def timed_windows(
    steps: Iterator[int],
    warmup: int,
    windows: int,
    per_window: int,
    sync: Callable[[], None] = _no_sync,
) -> list[float]:
    """Images/s of each window; ``steps`` yields the images of each step as it is queued.

    Windows are back to back (each starts where the last ended), the device is synchronised
    at their edges only, and the ``warmup`` steps before the first are not timed.
    """
    for _ in range(warmup):
        next(steps)
    sync()
    rates, start = [], time.perf_counter()
    for _ in range(windows):
        images = sum(next(steps) for _ in range(per_window))
        sync()
        now = time.perf_counter()
        rates.append(images / (now - start))
        start = now
    return rates


def endless(loader: Any) -> Iterator[Any]:
    while True:
        yield from loader


def queue_depth(loader: Any) -> int:
    """Batches a DataLoader prepares ahead of the consumer: workers x prefetch_factor."""
    workers = getattr(loader, "num_workers", 0)
    return workers * (loader.prefetch_factor or 2) if workers else 0


def drained(loader: Any) -> Iterator[Any]:
    """The loader's batches, endlessly, after its queue was filled and drained: the first
    ``queue_depth`` batches (prepared before anyone waited for them) are taken untimed, and from
    then on the consumer takes each batch as soon as it exists, so every batch a timed window
    counts was made while its clock ran. Callers use windows of at least ``num_workers``
    batches, so the workers' round-robin evens out."""
    batches = endless(loader)
    for _ in range(queue_depth(loader)):
        next(batches)
    return batches


def loader_steps(loader: Any) -> Iterator[int]:
    """Images of each batch (targets: a batch's second entry in every layout: decoded,
    encoded, packed)."""
    return (len(batch[1]) for batch in drained(loader))


class WindowClock(L.Callback):
    """Images/s of windows of training steps inside Trainer.fit, the device synchronised only
    at window edges (Lightning's ThroughputMonitor synchronises after every step); optionally
    a checksum of every batch the model receives, to prove two loops saw the same tensors."""

    def __init__(
        self,
        warmup: int,
        windows: int,
        per_window: int,
        seed: int | None = None,
        between: Callable[[], float] | None = None,
    ):
        """``between``: timed elsewhere (another loop's window, returning its images/s) before
        each window, outside this clock: the two interleave, each pair seconds apart."""
        self.warmup, self.windows, self.per_window, self.seed = warmup, windows, per_window, seed
        self.between, self.between_rates = between, []
        self.rates: list[float] = []
        self.checksums = Checksums()
        self._steps, self._images, self._start = 0, 0, 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.seed is not None:  # the same augmentation draws as the plain loop's
            torch.manual_seed(self.seed)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.seed is not None:  # a comparison with the plain loop: record what arrives
            self.checksums.add(batch)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._steps += 1
        if self._steps > self.warmup:
            self._images += int(batch[0].shape[0])
        timed = self._steps - self.warmup
        if timed == 0 or (timed > 0 and timed % self.per_window == 0):
            device_sync(pl_module.device)()
            now = time.perf_counter()
            if timed > 0:
                self.rates.append(self._images / (now - self._start))
            if self.between is not None and len(self.rates) < self.windows:
                self.between_rates.append(self.between())
                now = time.perf_counter()
            self._start, self._images = now, 0
        if len(self.rates) == self.windows:
            trainer.should_stop = True


class Checksums:
    """Per-image sums and targets of every batch, kept on the device (no sync) until read."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self.sums: list[torch.Tensor] = []

    def add(self, batch: Any) -> None:
        if len(self.sums) < self.limit:
            images, targets = batch[0], batch[1]
            per_image = images.detach().float().flatten(1).sum(1)
            self.sums.append(torch.cat([per_image, targets.to(per_image.dtype)]))

    def host(self) -> list[torch.Tensor]:
        return [s.cpu() for s in self.sums]


def same_tensors(a: Checksums, b: Checksums) -> bool:
    """Whether two loops received the same batches, step for step (as far as both went)."""
    count = min(len(a.sums), len(b.sums))
    return count > 0 and all(
        torch.equal(x, y) for x, y in zip(a.host()[:count], b.host()[:count], strict=True)
    )


def pss_mb(pid: int) -> float:
    """Proportional set size: pages shared by n processes count 1/n in each, so the workers'
    sum is what they really occupy (RSS counts shared pages once per worker). 0 for a process
    that is gone."""
    try:
        return psutil.Process(pid).memory_full_info().pss / 2**20
    except psutil.Error:
        return 0.0


def workers_pss_mb() -> float:
    """PSS of this process's children (the loader workers) together."""
    return sum(pss_mb(child.pid) for child in psutil.Process().children())


class PSSSampler:
    """Peak PSS of this process and, separately, of all its children (loader workers) together.

    The kernel keeps no peak of a sum over processes, so a thread reads them every
    ``interval`` seconds (PSS is Linux's; elsewhere both stay 0).
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval, self.main_mb, self.workers_mb = interval, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        """Read both now. Callers also call it while their workers are known to be alive: a
        loader run shorter than ``interval`` could otherwise fall between two readings."""
        if psutil is None:
            return
        self.main_mb = max(self.main_mb, pss_mb(os.getpid()))
        self.workers_mb = max(self.workers_mb, workers_pss_mb())

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PSSSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
