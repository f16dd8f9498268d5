"""The sweep report: summary.csv, summary.md (best first, best overrides to copy) and PNG plots.

Written by our sweepers when a multirun ends, and rebuilt for any sweep folder with
``python scripts/sweep_report.py DIR`` (``make sweep-report DIR=...``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402

from alexnet_lightning.sweep_summary import summary_rows, write_summary  # noqa: E402

PLOTS = "plots"


def write_report(
    sweep_dir: Path, metric: str | None = "val/acc_best", direction: str = "maximize"
) -> list[Path]:
    """Write summary.csv, summary.md and plots/*.png for the sweep folder; return their paths."""
    sweep_dir = Path(sweep_dir)
    rows = summary_rows(sweep_dir, metric)
    paths = [write_summary(sweep_dir, metric, rows)]
    ranked = _ranked(rows, direction)
    swept = _swept_values(rows)
    paths.append(_write_markdown(sweep_dir, ranked, swept, metric or "optimized_metric"))
    (sweep_dir / PLOTS).mkdir(exist_ok=True)
    for key, values in swept.items():
        paths.append(_plot_against(sweep_dir, key, values, rows, metric))
    if _is_optuna(sweep_dir):
        paths.append(_plot_history(sweep_dir, rows, metric, direction))
    return paths


def _value(row: dict[str, Any]) -> float | None:
    try:
        value = float(row["optimized_metric"])
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _ranked(rows: list[dict], direction: str) -> list[dict]:
    """Jobs with a value first, best first; then the rest in job order."""
    sign = -1 if direction == "maximize" else 1
    scored = sorted((r for r in rows if _value(r) is not None), key=lambda r: sign * _value(r))
    return scored + [r for r in rows if _value(r) is None]


def _parse(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def _swept_values(rows: list[dict]) -> dict[str, list[str]]:
    """Override keys whose value differs between jobs, with each job's value ('' if unset)."""
    per_job = [dict(_parse(o) for o in r["overrides"].split()) for r in rows]
    keys = dict.fromkeys(k for job in per_job for k in job)
    swept = {k: [job.get(k, "") for job in per_job] for k in keys}
    return {k: v for k, v in swept.items() if len(set(v)) > 1}


def _write_markdown(sweep_dir: Path, ranked: list[dict], swept: dict, metric: str) -> Path:
    states = [r["state"] for r in ranked]
    known = ["complete", "pruned", "failed"]
    known += sorted(set(states) - set(known))  # "interrupted": a killed sweep's, run again
    counts = ", ".join(f"{states.count(s)} {s}" for s in known)
    metrics = list(dict.fromkeys([metric, "val/acc_best", "test/acc"]))
    header = ["job", "state", *metrics, "epochs", "wall s", *swept]
    lines = [
        f"# Sweep {sweep_dir.name}",
        "",
        f"{len(ranked)} jobs ({counts}), best `{metric}` first.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    for r in ranked:
        values = dict(_parse(o) for o in r["overrides"].split())
        column = {metric: "optimized_metric"}
        cells = [r["job"], r["state"], *(_fmt(r[column.get(m, m)]) for m in metrics)]
        cells += [str(r["epochs"]), str(r["wall_s"]), *(values.get(k, "") for k in swept)]
        lines.append("| " + " | ".join(cells) + " |")
    best = ranked[0] if ranked and _value(ranked[0]) is not None else None
    if best:
        # hparams_search= would turn the single run back into a search config
        overrides = [o for o in best["overrides"].split() if not o.startswith("hparams_search=")]
        lines += [
            "",
            f"## Best: job {best['job']}, {metric} = {_fmt(best['optimized_metric'])}",
            "",
            "Train it alone with these overrides:",
            "",
            "```bash",
            f"python scripts/train.py {' '.join(overrides)}",
            "```",
            "",
            f"Best checkpoint: `{best['best_ckpt'] or 'none'}`",
        ]
    else:
        lines += ["", f"No job produced {metric}."]
    path = sweep_dir / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _fmt(value: Any) -> str:
    try:
        return f"{float(value):.4f}"
    except (TypeError, ValueError):
        return str(value) if value not in (None, "") else "-"


def _plot_against(
    sweep_dir: Path, key: str, values: list[str], rows: list[dict], metric: str | None
) -> Path:
    points = [(v, _value(r)) for v, r in zip(values, rows, strict=True) if _value(r) is not None]
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
    path = sweep_dir / PLOTS / f"{key.replace('/', '_')}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _numbers(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def _plot_history(sweep_dir: Path, rows: list[dict], metric: str | None, direction: str) -> Path:
    jobs = [
        (int(r["job"]), _value(r)) for r in rows if r["job"].isdigit() and _value(r) is not None
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
    path = sweep_dir / PLOTS / "history.png"
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _is_optuna(sweep_dir: Path) -> bool:
    config = sweep_dir / "multirun.yaml"
    if not config.is_file():
        return False
    target = (yaml.safe_load(config.read_text()) or {}).get("hydra", {}).get("sweeper", {})
    return "Optuna" in str(target.get("_target_", ""))
