"""What the Figure 3 and Figure 4 tools cost (``scripts/benchmark_figures.py``): the kernels
callback per call against a training epoch, and the neighbours search over a CIFAR-sized
training set. Random weights and images: the cost does not depend on what was learned."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator

import torch
from torch.utils.tensorboard import SummaryWriter

from alexnet_lightning.analysis.kernels import kernel_figure
from alexnet_lightning.analysis.neighbours import LastHiddenFeatures, nearest_training_images
from alexnet_lightning.models import cifar_net
from alexnet_lightning.models.net import build_net


def _median_ms(work: Callable[[], object], calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        work()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def kernel_figure_ms(variant: str, groups: int, calls: int = 10) -> float:
    """One call of the callback's work: the figure, and TensorBoard's PNG encoding of it."""
    net = build_net({"variant": variant, "num_classes": 10, "groups": groups})
    with tempfile.TemporaryDirectory() as folder:
        writer = SummaryWriter(folder)

        def call() -> None:
            writer.add_image("kernels", kernel_figure(net).image, 0, dataformats="HWC")

        ms = _median_ms(call, calls)
        writer.close()
    return ms


def training_step_ms(side: int = 24, batch: int = 128, steps: int = 20) -> float:
    """One SGD step of the cifar network (forward, backward, update) on this machine."""
    net = cifar_net.build(num_classes=10)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    images, labels = torch.randn(batch, 3, side, side), torch.randint(0, 10, (batch,))

    def step() -> None:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(images), labels).backward()
        optimizer.step()

    step()  # warm-up
    return _median_ms(step, steps)


def neighbours_seconds(
    images: int = 45_000, side: int = 24, batch: int = 128, queries: int = 8
) -> float:
    """The whole search: features of ``images`` training images and the running top-6."""
    net = cifar_net.build(num_classes=10).eval()
    features = LastHiddenFeatures(net)
    generator = torch.Generator().manual_seed(0)

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        for start in range(0, images, batch):
            count = min(batch, images - start)
            x = torch.rand(count, 3, side, side, generator=generator)
            yield x, x, torch.zeros(count, dtype=torch.long)

    query = torch.rand(queries, 3, side, side, generator=generator)
    start = time.perf_counter()
    nearest_training_images(features, (query, query, torch.zeros(queries)), batches())
    return time.perf_counter() - start


def figure_costs(train_images: int = 45_000, batch: int = 128) -> dict[str, float]:
    steps = -(-train_images // batch)
    epoch_ms = steps * training_step_ms(batch=batch)
    cifar_ms = kernel_figure_ms("cifar", 2)
    return {
        "kernels_ms_cifar_groups1": kernel_figure_ms("cifar", 1),
        "kernels_ms_cifar_groups2": cifar_ms,
        "kernels_ms_paper_groups2": kernel_figure_ms("paper", 2),
        "cifar_epoch_s_estimated": epoch_ms / 1000,
        "kernels_share_of_cifar_epoch": cifar_ms / epoch_ms,
        "neighbours_s_45k_24px": neighbours_seconds(train_images, batch=batch),
    }
