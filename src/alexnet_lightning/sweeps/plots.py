"""The sweep report's PNG plots: the metric against each swept parameter, Optuna's history, the
learning curves of seed groups (mean and band) and the paper's Figure 1."""

from __future__ import annotations

import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from alexnet_lightning.sweeps.summary import metric_value  # noqa: E402


def plot_against(
    folder: Path, key: str, values: list[str], rows: list[dict], metric: str | None
) -> Path:
    points = [
        (v, metric_value(r))
        for v, r in zip(values, rows, strict=True)
        if metric_value(r) is not None
    ]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    numeric = _numbers([v for v, _ in points])
    if numeric is not None:
        ax.scatter(numeric, [y for _, y in points])
        if min(numeric) > 0 and max(numeric) / min(numeric) >= 100:
            ax.set_xscale("log")
    else:  # categories (optimizer names, ...): one column each
        labels = sorted({v for v, _ in points})
        ax.scatter([labels.index(v) for v, _ in points], [y for _, y in points])
        ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel(key)
    ax.set_ylabel(metric or "optimized_metric")
    ax.set_title(f"{metric} against {key}", fontsize=9)
    ax.grid(alpha=0.3)
    path = folder / f"{key.replace('/', '_')}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _numbers(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def plot_history(folder: Path, rows: list[dict], metric: str | None, direction: str) -> Path:
    jobs = [
        (int(r["job"]), metric_value(r))
        for r in rows
        if r["job"].isdigit() and metric_value(r) is not None
    ]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter([j for j, _ in jobs], [v for _, v in jobs], label="trial")
    best, running = None, []
    for _, value in jobs:
        better = best is None or (value > best if direction == "maximize" else value < best)
        best = value if better else best
        running.append(best)
    ax.step([j for j, _ in jobs], running, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric or "optimized_metric")
    ax.set_title("optimisation history", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    path = folder / "history.png"
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def mean_band(curves: list[list[tuple[int, float]]]) -> tuple[list[int], list[float], list[float]]:
    """Per epoch, the mean over the curves that reach it and its sample deviation (0 where one
    curve is left: a run stopped early no longer counts)."""
    by_epoch: dict[int, list[float]] = {}
    for curve in curves:
        for epoch, value in curve:
            by_epoch.setdefault(epoch, []).append(value)
    epochs = sorted(by_epoch)
    means = [statistics.fmean(by_epoch[e]) for e in epochs]
    stds = [statistics.stdev(by_epoch[e]) if len(by_epoch[e]) > 1 else 0.0 for e in epochs]
    return epochs, means, stds


def plot_learning_curves(
    path: Path, title: str, arms: list[tuple[str, list[dict]]], tags: tuple[str, ...]
) -> Path:
    """One panel per tag: each arm's mean over its seeds against epochs, +- one deviation."""
    fig, axes = plt.subplots(1, len(tags), figsize=(5 * len(tags), 3.5), squeeze=False)
    for ax, tag in zip(axes[0], tags, strict=True):
        for label, curves in arms:
            epochs, means, stds = mean_band([c[tag] for c in curves if tag in c])
            if not epochs:
                continue
            (line,) = ax.plot(epochs, means, label=f"{label} (n={len(curves)})")
            low = [m - s for m, s in zip(means, stds, strict=True)]
            high = [m + s for m, s in zip(means, stds, strict=True)]
            ax.fill_between(epochs, low, high, color=line.get_color(), alpha=0.2)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(tag)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_training_error(
    path: Path, arms: list[tuple[str, str, list[dict]]], target: float, condition: str = ""
) -> Path:
    """The paper's Figure 1: training error against epochs, one line style per arm (label,
    matplotlib line style, curves), the target as a dotted line."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for label, style, curves in arms:
        epochs, means, stds = mean_band([c["train/error"] for c in curves if "train/error" in c])
        if not epochs:
            continue
        (line,) = ax.plot(epochs, means, style, color="black", label=label)
        low = [m - s for m, s in zip(means, stds, strict=True)]
        high = [m + s for m, s in zip(means, stds, strict=True)]
        ax.fill_between(epochs, low, high, color="grey", alpha=0.2)
    ax.axhline(target, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(0, max(0.75, 2 * target))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epochs")
    ax.set_ylabel("training error rate")
    ax.set_title(f"epochs to {target:.0%} training error {condition}".strip(), fontsize=8)
    if ax.get_legend_handles_labels()[0]:  # no curves: no job logged train/error
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
