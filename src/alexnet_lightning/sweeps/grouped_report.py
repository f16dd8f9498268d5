"""The part of the sweep report for jobs repeated over seeds: one row per seed group (mean and
deviation), an ablation's arms against its baseline beside the paper's reported effect, and
the paper's Figure 1 (figure1_report).

Adds sections to summary.md and writes groups.csv and plots/ (curves from each job's
TensorBoard events).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from alexnet_lightning.sweeps.figure1_report import figure1_section
from alexnet_lightning.sweeps.paper import PAPER_EFFECTS, PAPER_SIGN
from alexnet_lightning.sweeps.plots import plot_learning_curves
from alexnet_lightning.sweeps.seed_groups import (
    METRICS,
    TARGET_ERROR,
    SeedGroup,
    baseline_of,
    common_overrides,
    mean_std,
    mean_std_text,
    seed_groups,
    varies_in_seed,
    without_arm,
)

GROUPS_FILE = "groups.csv"
ABLATION_PANELS = ("train/error", "val/acc")
# The metric a verdict is drawn on, and how many standard errors of the difference count as
# more than noise (about a 95% two-sided interval).
VERDICT_METRIC = "test/acc"
NOISE_SE = 2.0


def grouped_report(
    sweep_dir: Path, rows: list[dict], sweep_config: dict[str, Any], plots: Path
) -> tuple[list[str], list[Path]]:
    """summary.md's seed-group sections (as lines) and the files written, for a sweep that ran
    a setting under several seeds or made its jobs from conf/arm/ or experiment=figure1;
    nothing otherwise."""
    groups = seed_groups(sweep_dir, rows)
    figure1 = sweep_config.get("figure1")
    ablated = [g for g in groups if g.arm()]
    if not (varies_in_seed(groups) or ablated or figure1):
        return [], []
    target = float(figure1["target_error"]) if figure1 else TARGET_ERROR
    lines = _seed_table(groups, target, common_overrides(rows))
    paths = [_write_csv(sweep_dir / GROUPS_FILE, groups, target)]
    if ablated:
        lines += _ablation_table(groups)
        lines += _idea_table(groups)
        paths += _ablation_plots(plots, groups)
    if figure1:
        figure_lines, figure_paths = figure1_section(groups, target, plots)
        lines += figure_lines
        paths += figure_paths
    return lines, paths


def _reached(values: list) -> list:
    return [v for v in values if v is not None]


def _epochs_cell(group: SeedGroup, target: float) -> str:
    epochs = group.epochs_to(target)
    reached = _reached(epochs)
    if not any(group.curves):
        return "-"  # no curves: logged without TensorBoard
    return f"{mean_std_text(reached)} ({len(reached)} of {len(epochs)})"


def _diff(group: SeedGroup, baseline: SeedGroup | None, metric: str) -> float | None:
    if baseline is None:
        return None
    ours, theirs = mean_std(group.values(metric))[0], mean_std(baseline.values(metric))[0]
    return None if ours is None or theirs is None else ours - theirs


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.2f}"


def _seed_table(groups: list[SeedGroup], target: float, common: list[str]) -> list[str]:
    header = ["group", "jobs", *METRICS, f"epochs to {target:.0%} train error (reached)"]
    shared = " ".join(o for o in common if not o.startswith("seed="))
    lines = [
        "",
        "## Over seeds",
        "",
        "Jobs that differ only in `seed`: mean ± sample standard deviation (n - 1) of the "
        "complete jobs, accuracies in %." + (f" Every job: `{shared}`." if shared else ""),
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    for g in groups:
        cells = [f"`{g.label}`" if g.label else "(no overrides)", str(len(g.rows))]
        cells += [mean_std_text(g.values(m), 100, 2) for m in METRICS]
        cells.append(_epochs_cell(g, target))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _ablation_table(groups: list[SeedGroup]) -> list[str]:
    header = ["ablation", "arm", "jobs", *METRICS, *(f"Δ {m}" for m in METRICS), "the paper"]
    header.append("verdict")
    lines = [
        "",
        "## Ablations",
        "",
        "Δ: the arm's mean minus its baseline's, in accuracy points. The paper gives error "
        "changes: an error -1.4 is an accuracy +1.4. Verdict, on Δ "
        f"{VERDICT_METRIC}: *within noise* when it is less than {NOISE_SE:g} standard errors of "
        "the difference (from the seeds' deviations), else *agrees* or *disagrees* with the "
        "direction the paper reports (every idea helps).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    for g in _in_paper_order([g for g in groups if g.arm()]):
        name, role, label = g.arm()
        baseline = baseline_of(g, groups)
        cells = [name, f"{role}: {label}", str(len(g.rows))]
        cells += [mean_std_text(g.values(m), 100, 2) for m in METRICS]
        cells += [_signed(_diff(g, baseline, m)) for m in METRICS]
        cells.append(PAPER_EFFECTS.get(name, "-") if role != "baseline" else "")
        cells.append(verdict(g, baseline) if role != "baseline" else "")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _in_paper_order(arms: list[SeedGroup]) -> list[SeedGroup]:
    """The paper's order (sweeps/paper.py), then any other ablation in the order of its first
    job; within each, the baseline first."""
    order = list(dict.fromkeys([*PAPER_EFFECTS, *(g.arm()[0] for g in arms)]))
    return sorted(arms, key=lambda g: (order.index(g.arm()[0]), g.arm()[1] != "baseline"))


def _idea_table(groups: list[SeedGroup]) -> list[str]:
    """One row per idea: its baseline and variant on VERDICT_METRIC, the difference, the
    paper's effect and the verdict (README, Studying AlexNet)."""
    metric = VERDICT_METRIC
    header = ["idea", "baseline", f"baseline {metric}", f"variant {metric}", "Δ", "the paper"]
    lines = [
        "",
        f"## Ablations, one row per idea ({metric}, %, mean ± sd over seeds)",
        "",
        "| " + " | ".join([*header, "verdict"]) + " |",
        "|" + " --- |" * (len(header) + 1),
    ]
    for g in _in_paper_order([g for g in groups if (a := g.arm()) and a[1] != "baseline"]):
        baseline = baseline_of(g, groups)
        name = g.arm()[0] + (f" ({c})" if (c := without_arm(g.label)) else "")
        cells = [name, baseline.arm()[2] if baseline else "-"]
        cells.append(mean_std_text(baseline.values(metric), 100, 2) if baseline else "-")
        cells.append(mean_std_text(g.values(metric), 100, 2))
        cells += [_signed(_diff(g, baseline, metric)), PAPER_EFFECTS.get(g.arm()[0], "-")]
        cells.append(verdict(g, baseline))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def verdict(variant: SeedGroup, baseline: SeedGroup | None) -> str:
    """Whether the variant's difference from its baseline in VERDICT_METRIC is noise, or has
    the paper's sign: a two-sample comparison of means with the standard error of the
    difference, sqrt(s_v^2 / n_v + s_b^2 / n_b)."""
    if baseline is None:
        return "no baseline"
    ours, theirs = variant.values(VERDICT_METRIC), baseline.values(VERDICT_METRIC)
    if len(ours) < 2 or len(theirs) < 2:
        return "one seed: no verdict"
    (mean_v, sd_v), (mean_b, sd_b) = mean_std(ours), mean_std(theirs)
    diff = mean_v - mean_b
    se = (sd_v**2 / len(ours) + sd_b**2 / len(theirs)) ** 0.5
    # seeds that all agree: any difference is more than noise
    sigmas = diff / se if se > 0 else (math.copysign(math.inf, diff) if diff else 0.0)
    if abs(sigmas) < NOISE_SE:
        return f"within noise ({sigmas:+.2f} se)"
    expected = PAPER_SIGN.get(variant.arm()[0], 0)
    if expected == 0:
        return f"differs ({sigmas:+.2f} se); the paper gives no direction"
    return f"{'agrees' if sigmas * expected > 0 else 'disagrees'} ({sigmas:+.2f} se)"


def _ablation_plots(plots: Path, groups: list[SeedGroup]) -> list[Path]:
    """plots/ablation_<name>.png per variant arm with a baseline (ablation_<name>_2.png, ...
    when the sweep crosses the arms with another setting)."""
    paths: list[Path] = []
    drawn: dict[str, int] = {}
    for g in groups:
        baseline = baseline_of(g, groups)
        if baseline is None or not any(g.curves):
            continue
        name = g.arm()[0]
        drawn[name] = drawn.get(name, 0) + 1
        suffix = "" if drawn[name] == 1 else f"_{drawn[name]}"
        arms = [(baseline.arm()[2], baseline.curves), (g.arm()[2], g.curves)]
        title = f"ablation {name} {without_arm(g.label)}".strip()
        path = plots / f"ablation_{name}{suffix}.png"
        paths.append(plot_learning_curves(path, title, arms, ABLATION_PANELS))
    return paths


def _write_csv(path: Path, groups: list[SeedGroup], target: float) -> Path:
    columns = ["group", "ablation", "role", "jobs"]
    for m in METRICS:
        columns += [f"{m} mean", f"{m} std", f"{m} diff"]
    columns += ["epochs to target mean", "epochs to target std", "reached", "paper", "verdict"]
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        for g in groups:
            name, role, _ = g.arm() or ("", "", "")
            row: dict[str, Any] = {"group": g.label, "ablation": name, "role": role}
            row["jobs"] = len(g.rows)
            baseline = baseline_of(g, groups)
            for m in METRICS:
                row[f"{m} mean"], row[f"{m} std"] = mean_std(g.values(m))
                row[f"{m} diff"] = _diff(g, baseline, m)
            reached = _reached(g.epochs_to(target))
            row["epochs to target mean"], row["epochs to target std"] = mean_std(reached)
            row["reached"] = len(reached)
            row["paper"] = PAPER_EFFECTS.get(name, "") if role == "variant" else ""
            row["verdict"] = verdict(g, baseline) if role == "variant" else ""
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return path
