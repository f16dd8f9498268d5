"""The Figure 1 section of the sweep report: epochs and training time to 25% training error per
setting, and tanh over ReLU under each condition (each activation at its fastest learning rate,
as the paper chose them), with the paper's plot."""

from __future__ import annotations

from pathlib import Path

from alexnet_lightning.sweeps.paper import FIGURE1_RATIO
from alexnet_lightning.sweeps.plots import plot_training_error
from alexnet_lightning.sweeps.seed_groups import SeedGroup, mean_std, mean_std_text

# What a condition is not: the two arms and the learning rate tuned for each.
NOT_CONDITIONS = ("model.net.activation", "model.optimizer.lr", "figure1.lr.")
STYLES = {"relu": "-", "tanh": "--", "sigmoid": ":"}


def figure1_section(
    groups: list[SeedGroup], target: float, plots: Path
) -> tuple[list[str], list[Path]]:
    """summary.md's lines and the plots (one per condition) of an experiment=figure1 sweep."""
    header = ["condition", "activation", "lr", "jobs", f"epochs to {target:.0%}"]
    header += ["train s to it", "reached"]
    lines = [
        "",
        f"## Figure 1: epochs to {target:.0%} training error",
        "",
        "train/error over each whole epoch; train s: time in training epochs (validation left "
        "out); mean ± deviation over the seeds that reached it. A condition is what a setting "
        "changes besides the activation and its learning rate.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    conditions: dict[str, list[SeedGroup]] = {}
    for g in groups:
        conditions.setdefault(condition(g), []).append(g)
        epochs = g.epochs_to(target)
        reached = [e for e in epochs if e is not None]
        seconds = [s for s in g.seconds_to(target) if s is not None]
        cells = [condition(g) or "(as configured)", activation(g)]
        cells += [str(g.setting("model.optimizer.lr")), str(len(g.rows))]
        cells += [mean_std_text(reached), mean_std_text(seconds)]
        cells.append(f"{len(reached)} of {len(epochs)}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"tanh / ReLU, each at its fastest learning rate (the paper: {FIGURE1_RATIO:.0f}x):",
    ]
    lines.append("")
    paths = []
    for number, (name, members) in enumerate(conditions.items()):
        fastest = _fastest(members, target)
        ratio = _ratio(fastest, target, members)
        lines.append(f"- {f'`{name}`' if name else '(as configured)'}: {ratio}")
        shown = {activation(g): g for g in members if activation(g) not in fastest}
        shown |= {a: g for a, (_, g) in fastest.items()}
        arms = [
            (f"{a} (lr {g.setting('model.optimizer.lr')})", STYLES.get(a, "-."), g.curves)
            for a, g in sorted(shown.items())
        ]
        path = plots / ("figure1.png" if number == 0 else f"figure1_{number + 1}.png")
        paths.append(plot_training_error(path, arms, target, name))
    lines.append("")
    lines += [f"![Figure 1](plots/{p.name})" for p in paths]
    return lines, paths


def activation(group: SeedGroup) -> str:
    return group.setting("model.net.activation") or "relu"


def condition(group: SeedGroup) -> str:
    """The group's overrides besides the activation and the learning rates."""
    return " ".join(o for o in group.label.split() if not o.lstrip("+").startswith(NOT_CONDITIONS))


def _fastest(groups: list[SeedGroup], target: float) -> dict[str, tuple[float, SeedGroup]]:
    """Per activation, the group with the fewest epochs to the target among those whose every
    seed reached it, as (mean epochs, group)."""
    fastest: dict[str, tuple[float, SeedGroup]] = {}
    for g in groups:
        epochs = g.epochs_to(target)
        if not epochs or None in epochs:
            continue
        mean = mean_std(epochs)[0]
        if activation(g) not in fastest or mean < fastest[activation(g)][0]:
            fastest[activation(g)] = (mean, g)
    return fastest


def _epochs_run_short(groups: list[SeedGroup], target: float, name: str) -> int | None:
    """When no run of the activation reached the target at any learning rate: the fewest
    epochs one of them ran, which the activation needs more than (else None)."""
    members = [g for g in groups if activation(g) == name and g.curves]
    if not members or any(e is not None for g in members for e in g.epochs_to(target)):
        return None
    return min(len(c.get("train/error", [])) for g in members for c in g.curves) or None


def _ratio(
    fastest: dict[str, tuple[float, SeedGroup]], target: float, groups: list[SeedGroup]
) -> str:
    tanh_short = _epochs_run_short(groups, target, "tanh")
    if "relu" in fastest and "tanh" not in fastest and tanh_short:
        relu_epochs = fastest["relu"][0]
        return (
            f"more than {tanh_short} / {relu_epochs:.1f} epochs = **> "
            f"{tanh_short / relu_epochs:.2f}x** (tanh did not reach {target:.0%} training error "
            f"in the {tanh_short} epochs it ran at any learning rate: raise trainer.max_epochs "
            "for the ratio itself)."
        )
    if not {"relu", "tanh"} <= set(fastest):
        missing = " and ".join(sorted({"relu", "tanh"} - set(fastest)))
        return (
            f"no ratio: {missing} did not reach {target:.0%} training error in every seed at "
            "any learning rate (raise trainer.max_epochs, or tune model.optimizer.lr)."
        )
    (relu_epochs, relu), (tanh_epochs, tanh) = fastest["relu"], fastest["tanh"]
    text = f"{tanh_epochs:.1f} / {relu_epochs:.1f} epochs = **{tanh_epochs / relu_epochs:.2f}x**"
    relu_s = mean_std([s for s in relu.seconds_to(target) if s is not None])[0]
    tanh_s = mean_std([s for s in tanh.seconds_to(target) if s is not None])[0]
    if relu_s and tanh_s:
        text += f"; in training time {tanh_s:.1f} / {relu_s:.1f} s = {tanh_s / relu_s:.2f}x"
    return text + "."
