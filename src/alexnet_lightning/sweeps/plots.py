"""The sweep report's PNG plots: the metric against each swept parameter, and Optuna's history."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402

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
