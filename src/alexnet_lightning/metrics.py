"""Every metric a run logs, declared once: its tag, which way is better, whether a checkpoint,
scheduler, early stopping or sweeper may watch it, its Custom Scalars chart, and where it is
shown (HParams' metric columns, the epoch line, the sweep report and its curves).

The LightningModule computes each metric with a ``compute`` factory (num_classes -> a
torchmetrics ``Metric``) in the stage its tag names and logs it under the tag; the other tags
are logged where ``by`` says. The config checks, the Custom Scalars layout, the HParams session,
the epoch line and the sweep report read this table, so a new metric is one entry here
(README, Extending). Importing it imports no torch: the config checks run before torch loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STAGES = ("train", "val", "test")
# The Custom Scalars charts, in the order the page shows them.
CHARTS = (
    "Loss",
    "Loss per step",
    "Accuracy",
    "Learning rate",
    "Throughput (images/s)",
    "First-layer kernels' Lab chroma",
)


@dataclass(frozen=True)
class MetricSpec:
    tag: str
    mode: str | None = "max"  # which way is better: max, min (None: neither)
    monitor: bool = False  # logged every epoch of training: a checkpoint or scheduler may watch it
    result: bool = False  # in metrics.json at the end: a sweeper may optimise it (test/*)
    chart: str | None = None  # its Custom Scalars chart (one of CHARTS)
    pattern: str | None = None  # the chart's regular expression, when not the tag exactly
    hparams: int | None = None  # its place among HParams' metric columns (TensorBoard shows 5)
    epoch_line: int | None = None  # its place in the epoch line of a run without a terminal
    report: bool = False  # a column of the sweep report (summary.csv, seed groups, ablations)
    curve: bool = False  # a per-epoch curve the sweep report reads (plots, Figure 1)
    compute: Callable[[int], Any] | None = None  # the module's torchmetrics factory
    by: str = "module"  # what logs it when the module computes nothing for it

    @property
    def stage(self) -> str:
        return self.tag.partition("/")[0]

    @property
    def name(self) -> str:
        """The tag without its stage (``acc_top5``): the module's metric name."""
        return self.tag.partition("/")[2]


def accuracy(top_k: int) -> Callable[[int], Any]:
    """Top-k accuracy over the whole split (micro average)."""

    def make(num_classes: int) -> Any:
        from torchmetrics.classification import MulticlassAccuracy

        return MulticlassAccuracy(num_classes, top_k=min(top_k, num_classes), average="micro")

    return make


def stage_metrics(
    name: str, compute: Callable[[int], Any], *, mode: str = "max", chart: str | None = None
) -> tuple[MetricSpec, ...]:
    """One metric the module computes in every stage: ``train/``, ``val/`` (both watchable and
    charted) and ``test/<name>`` (a result)."""
    return (
        MetricSpec(f"train/{name}", mode, monitor=True, chart=chart, compute=compute),
        MetricSpec(f"val/{name}", mode, monitor=True, chart=chart, compute=compute),
        MetricSpec(f"test/{name}", mode, result=True, compute=compute),
    )


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "train/loss", "min", monitor=True, chart="Loss", hparams=5, epoch_line=1, curve=True
    ),
    MetricSpec("val/loss", "min", monitor=True, chart="Loss", hparams=3, epoch_line=2, curve=True),
    MetricSpec("test/loss", "min", result=True),
    # one batch's loss every trainer.log_every_n_steps steps
    MetricSpec("train/loss_step", "min", chart="Loss per step"),
    MetricSpec("train/acc", monitor=True, chart="Accuracy", hparams=4, compute=accuracy(1)),
    MetricSpec(
        "val/acc",
        monitor=True,
        chart="Accuracy",
        hparams=2,
        epoch_line=3,
        curve=True,
        compute=accuracy(1),
    ),
    MetricSpec("val/acc_best", monitor=True, chart="Accuracy", hparams=1, report=True),
    MetricSpec("test/acc", result=True, report=True, compute=accuracy(1)),
    # 1 - train/acc over the epoch: the paper's Figure 1 counts epochs to 25%
    MetricSpec("train/error", "min", monitor=True, chart="Accuracy", curve=True),
    *stage_metrics("acc_top5", accuracy(5)),
    MetricSpec("train/lr", None, chart="Learning rate", pattern=r"^train/lr(/.+)?$", by="lr"),
    MetricSpec("train/images_per_s", chart="Throughput (images/s)", by="throughput"),
    MetricSpec("train/time_s", "min", curve=True, by="train_time"),  # experiment=figure1
    MetricSpec("train/epoch", None, by="the logger"),  # counted from 1
    MetricSpec(
        "kernels/colourfulness",
        chart="First-layer kernels' Lab chroma",
        pattern=r"^kernels/colourfulness/",
        by="kernels",
    ),
)


def tags(**flags: bool) -> tuple[str, ...]:
    """The tags whose fields are truthy as asked (``tags(monitor=True)``), in table order."""
    return tuple(m.tag for m in METRICS if all(bool(getattr(m, k)) == v for k, v in flags.items()))


def watchable() -> tuple[str, ...]:
    """What a checkpoint, scheduler or early stopping may monitor: logged during training."""
    return tags(monitor=True)


def results() -> tuple[str, ...]:
    """What a run may return to a sweeper (``optimized_metric``): watchable ones and results."""
    return watchable() + tags(result=True)


def ranked(field: str) -> tuple[str, ...]:
    """The tags with a place in ``field`` (hparams, epoch_line), in that order."""
    placed = [m for m in METRICS if getattr(m, field) is not None]
    return tuple(m.tag for m in sorted(placed, key=lambda m: getattr(m, field)))


def computed(stage: str) -> dict[str, Callable[[int], Any]]:
    """The module's metrics of one stage: name -> torchmetrics factory."""
    return {m.name: m.compute for m in METRICS if m.stage == stage and m.compute is not None}


def mode_of(tag: str) -> str | None:
    """max or min for a declared tag (None for one that is neither better high nor low)."""
    return next(m.mode for m in METRICS if m.tag == tag)


def scalar_layout() -> dict[str, dict[str, list]]:
    """The Custom Scalars layout: one card, a multiline chart per chart name."""
    charts: dict[str, list[str]] = {c: [] for c in CHARTS}
    for m in METRICS:
        if m.chart is not None:
            charts.setdefault(m.chart, []).append(m.pattern or f"^{m.tag}$")
    return {"Training": {title: ["Multiline", rx] for title, rx in charts.items() if rx}}
