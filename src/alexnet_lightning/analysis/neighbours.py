"""The paper's Figure 4: for each query image the training images whose last-hidden-layer
features lie nearest in Euclidean distance, found in one pass over the training set."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw
from rich.progress import track
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor
from torchvision.utils import make_grid

from alexnet_lightning.errors import ConfigError


class LastHiddenFeatures(nn.Module):
    """``net`` cut at the layer its class names ``last_hidden_layer`` (a create_feature_extractor
    node, e.g. AlexNet's ``classifier.5``): images -> (N, features)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        node = getattr(net, "last_hidden_layer", None)
        if not isinstance(node, str):
            raise ConfigError(
                f"{type(net).__name__} names no last hidden layer, whose features the nearest "
                "neighbours compare; give its class an attribute last_hidden_layer = '<node>', "
                "a torchvision create_feature_extractor node name (e.g. 'classifier.5')"
            )
        self.layer = node
        self.extractor = create_feature_extractor(net, return_nodes={node: "features"})

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.extractor(images)["features"].flatten(1)


class RunningTopK:
    """The ``k`` nearest of a stream of feature batches to fixed ``queries``, kept as the
    batches come: memory is queries x (k + chunk_size), never queries x all (nor N x N).

    ``payloads`` given with each batch (images, labels) travel with their rows, so the
    neighbours can be drawn without a second pass. Ties keep the earlier row.
    """

    def __init__(self, queries: torch.Tensor, k: int, chunk_size: int = 4096) -> None:
        self.queries, self.k, self.chunk_size = queries.float(), k, chunk_size
        count = len(queries)
        self.distances = queries.new_full((count, 0), float("inf"), dtype=torch.float32)
        self.indices = torch.zeros((count, 0), dtype=torch.long, device=queries.device)
        self.payloads: list[torch.Tensor] | None = None
        self.seen = 0

    def update(self, features: torch.Tensor, *payloads: torch.Tensor) -> None:
        for start in range(0, len(features), self.chunk_size):
            part = slice(start, start + self.chunk_size)
            self._merge(features[part], [p[part] for p in payloads])

    def _merge(self, features: torch.Tensor, payloads: list[torch.Tensor]) -> None:
        # exact differences, not the matmul shortcut: a duplicate of a query must be at 0
        distance = torch.cdist(
            self.queries, features.float(), compute_mode="donot_use_mm_for_euclid_dist"
        )
        index = torch.arange(self.seen, self.seen + len(features), device=distance.device)
        self.seen += len(features)
        held = self.distances.shape[1]
        all_distances = torch.cat([self.distances, distance], dim=1)
        order = all_distances.sort(dim=1, stable=True).indices[:, : self.k]
        self.distances = all_distances.gather(1, order)
        self.indices = torch.cat([self.indices, index.expand(len(distance), -1)], 1).gather(
            1, order
        )
        if payloads:
            old = self.payloads or [p.new_empty((len(distance), 0, *p.shape[1:])) for p in payloads]
            self.payloads = [_pick(o, p, order, held) for o, p in zip(old, payloads, strict=True)]


def _pick(held_rows: torch.Tensor, new_rows: torch.Tensor, order: torch.Tensor, held: int):
    """(Q, k, ...) rows at ``order``, positions below ``held`` in ``held_rows`` (Q, held, ...)
    and the others in ``new_rows`` (n, ...), shared by every query: never Q x n copies."""
    from_new = new_rows[(order - held).clamp(min=0)]
    if held == 0:
        return from_new
    from_held = held_rows[
        torch.arange(len(order), device=order.device)[:, None], order.clamp(max=held - 1)
    ]
    keep = (order < held).view(*order.shape, *[1] * (new_rows.dim() - 1))
    return torch.where(keep, from_held, from_new)


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # network input, [0, 1] images, labels


def nearest_training_images(
    features: nn.Module,
    queries: Batch,
    training: Iterable[Batch],
    k: int = 6,
    chunk_size: int = 4096,
    total: int | None = None,
) -> RunningTopK:
    """The ``k`` training images nearest to each query by ``features``; with a progress bar."""
    with torch.inference_mode():
        running = RunningTopK(features(queries[0]), k, chunk_size)
        for inputs, images, labels in track(
            training, total=total, description="training features", transient=True
        ):
            running.update(features(inputs), images, labels)
    return running


def neighbours_figure(
    queries: torch.Tensor, neighbours: torch.Tensor, title: str, tile: int = 64
) -> np.ndarray:
    """Queries (Q, 3, H, W) in the first column, their neighbours (Q, k, 3, H, W) beside them
    (as the paper's Figure 4), tiles upsampled to at least ``tile`` pixels; (H, W, 3) uint8."""
    rows = torch.cat([queries.unsqueeze(1), neighbours], dim=1).float().cpu()
    factor = max(1, round(tile / rows.shape[-1]))
    rows = rows.repeat_interleave(factor, -2).repeat_interleave(factor, -1)
    # a wider gap after the query column: two grids side by side
    left = make_grid(rows[:, 0], nrow=1, padding=2, pad_value=1)
    right = make_grid(rows[:, 1:].flatten(0, 1), nrow=rows.shape[1] - 1, padding=2, pad_value=1)
    strip = 18
    canvas = Image.new("RGB", (left.shape[2] + 8 + right.shape[2], left.shape[1] + strip), "white")
    for grid, x in ((left, 0), (right, left.shape[2] + 8)):
        pixels = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        canvas.paste(Image.fromarray(pixels), (x, strip))
    ImageDraw.Draw(canvas).text((4, 3), title, fill="black")
    return np.asarray(canvas)


def rows_at(batches: Iterable[Batch], wanted: list[int]) -> Batch:
    """The rows of a stream of batches at the (sorted) positions ``wanted``."""
    found: list[Any] = [[], [], []]
    seen = 0
    for batch in batches:
        picks = [i - seen for i in wanted if seen <= i < seen + len(batch[0])]
        for column, part in zip(found, batch, strict=True):
            column.append(part[picks])
        seen += len(batch[0])
    return tuple(torch.cat(column) for column in found)  # type: ignore[return-value]


def spread(count: int, total: int) -> list[int]:
    """``count`` positions spread evenly over ``total`` rows: folder splits are sorted by class,
    so the first rows would all be of one class."""
    count = min(count, total)
    return sorted({round(i * (total - 1) / max(1, count - 1)) for i in range(count)})
