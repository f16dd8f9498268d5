"""The sweep report: summary.csv, summary.md (best first, best overrides to copy) and PNG plots;
for jobs repeated over seeds also groups.csv and their sections of summary.md (grouped_report).

Written by our sweepers when a multirun ends (sweeps.grid, sweeps.optuna_sweeper), and rebuilt
for any sweep folder with ``python scripts/sweep_report.py DIR`` (``make sweep-report DIR=...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from alexnet_lightning.metrics import tags
from alexnet_lightning.sweeps.grouped_report import grouped_report
from alexnet_lightning.sweeps.plots import plot_against, plot_history
from alexnet_lightning.sweeps.summary import metric_value, summary_rows, write_summary

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
    config = _sweep_config(sweep_dir)
    (sweep_dir / PLOTS).mkdir(exist_ok=True)
    grouped, grouped_paths = grouped_report(sweep_dir, rows, config, sweep_dir / PLOTS)
    paths.append(_write_markdown(sweep_dir, ranked, swept, metric or "optimized_metric", grouped))
    paths += grouped_paths
    for key, values in swept.items():
        paths.append(plot_against(sweep_dir / PLOTS, key, values, rows, metric))
    if "Optuna" in str(config.get("hydra", {}).get("sweeper", {}).get("_target_", "")):
        paths.append(plot_history(sweep_dir / PLOTS, rows, metric, direction))
    return paths


def _ranked(rows: list[dict], direction: str) -> list[dict]:
    """Jobs with a value first, best first; then the rest in job order."""
    sign = -1 if direction == "maximize" else 1
    scored = sorted(
        (r for r in rows if metric_value(r) is not None), key=lambda r: sign * metric_value(r)
    )
    return scored + [r for r in rows if metric_value(r) is None]


def _parse(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def _swept_values(rows: list[dict]) -> dict[str, list[str]]:
    """Override keys whose value differs between jobs, with each job's value ('' if unset)."""
    per_job = [dict(_parse(o) for o in r["overrides"].split()) for r in rows]
    keys = dict.fromkeys(k for job in per_job for k in job)
    swept = {k: [job.get(k, "") for job in per_job] for k in keys}
    return {k: v for k, v in swept.items() if len(set(v)) > 1}


def _write_markdown(
    sweep_dir: Path, ranked: list[dict], swept: dict, metric: str, grouped: list[str]
) -> Path:
    states = [r["state"] for r in ranked]
    known = ["complete", "pruned", "failed"]
    known += sorted(set(states) - set(known))  # "interrupted": a killed sweep's, run again
    counts = ", ".join(f"{states.count(s)} {s}" for s in known)
    metrics = list(dict.fromkeys([metric, *tags(report=True)]))
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
    best = ranked[0] if ranked and metric_value(ranked[0]) is not None else None
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
    lines += grouped
    path = sweep_dir / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _fmt(value: Any) -> str:
    try:
        return f"{float(value):.4f}"
    except (TypeError, ValueError):
        return str(value) if value not in (None, "") else "-"


def _sweep_config(sweep_dir: Path) -> dict[str, Any]:
    """The sweep's config as saved in multirun.yaml ({} when there is none)."""
    config = sweep_dir / "multirun.yaml"
    return (yaml.safe_load(config.read_text()) or {}) if config.is_file() else {}
