"""Ablation and Figure 1 sweeps: the seed-grouped report on a fake sweep folder with known
numbers, and tiny sweeps through scripts/train.py -m that write their tables and plots."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from alexnet_lightning.config_checks import check_config
from alexnet_lightning.dataset_tools.synthetic_cifar10 import write_cifar10_archive
from alexnet_lightning.errors import ConfigError
from alexnet_lightning.models.net import build_net
from alexnet_lightning.sweeps.grouped_report import verdict
from alexnet_lightning.sweeps.jobs import write_job_record
from alexnet_lightning.sweeps.paper import PAPER_EFFECTS
from alexnet_lightning.sweeps.report import write_report
from alexnet_lightning.sweeps.seed_groups import SeedGroup
from tests.conftest import CONF, compose_config
from tests.data.test_cifar10 import ARCHIVE
from tests.sweeps.runs import read_summary, run_sweep


def test_each_ablation_sweeps_its_baseline_and_variant_arm_over_seeds_and_all_sweeps_every_arm():
    arms = {p.stem: yaml.safe_load(p.read_text())["arm"] for p in (CONF / "arm").glob("*.yaml")}
    ablations = sorted(p.stem for p in (CONF / "experiment" / "ablation").glob("*.yaml"))
    assert ablations == sorted([*PAPER_EFFECTS, "all"])
    for name in ablations:
        config = yaml.safe_load((CONF / "experiment" / "ablation" / f"{name}.yaml").read_text())
        params = config["hydra"]["sweeper"]["params"]
        assert (config["seeds"], params["seed"]) == (3, "range(0,${seeds})")
        if name == "all":
            assert params["+arm"] == "glob(*)"  # every file of conf/arm
            continue
        swept = params["+arm"].split(",")
        assert [arms[a]["role"] for a in swept] == ["baseline", "variant"], name
        assert {arms[a]["ablation"] for a in swept} == {name}
    assert sorted(a["ablation"] for a in arms.values()) == sorted(2 * list(PAPER_EFFECTS))


def modules(net, kind) -> list:
    return [m for m in net.modules() if isinstance(m, kind)]


# What each arm must build (the network and data keys it changes), checked on the model itself.
ARM_BUILDS = {
    "tanh": lambda net, data: modules(net, nn.Tanh) and not modules(net, nn.ReLU),
    "relu": lambda net, data: modules(net, nn.ReLU) and not modules(net, nn.Tanh),
    "lrn_off": lambda net, data: not modules(net, nn.LocalResponseNorm),
    "lrn_on": lambda net, data: len(modules(net, nn.LocalResponseNorm)) == 2,
    "pool_non_overlapping": lambda net, data: {m.kernel_size for m in modules(net, POOLS)} == {2},
    "pool_overlapping": lambda net, data: {m.kernel_size for m in modules(net, POOLS)} == {3},
    "dropout_off": lambda net, data: {m.p for m in modules(net, nn.Dropout)} == {0.0},
    "dropout_on": lambda net, data: {m.p for m in modules(net, nn.Dropout)} == {0.5},
    "augmentation_off": lambda net, data: (
        (data.train_crop, data.hflip, data.lighting_std) == ("none", False, 0.0)
    ),
    "augmentation_on": lambda net, data: (data.train_crop, data.hflip) == ("paper", True),
    # conv1-5 widths and groups: the half net's widths in one tower, the paper's in two
    "one_tower": lambda net, data: (
        [(m.out_channels, m.groups) for m in modules(net, nn.Conv2d)]
        == [(48, 1), (128, 1), (192, 1), (192, 1), (128, 1)]
    ),
    "two_towers": lambda net, data: (
        [(m.out_channels, m.groups) for m in modules(net, nn.Conv2d)]
        == [(96, 1), (256, 2), (384, 1), (384, 2), (256, 2)]
    ),
}
POOLS = (nn.MaxPool2d, nn.AvgPool2d)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ARM_BUILDS))
def test_each_arm_builds_the_network_it_names(name, tmp_path):
    assert set(ARM_BUILDS) == {p.stem for p in (CONF / "arm").glob("*.yaml")}
    ablation = yaml.safe_load((CONF / "arm" / f"{name}.yaml").read_text())["arm"]["ablation"]
    cfg = compose_config("train", [f"experiment=ablation/{ablation}", f"+arm={name}"], tmp_path)
    check_config(cfg)
    net = build_net(OmegaConf.to_container(cfg.model.net, resolve=True))
    assert ARM_BUILDS[name](net, cfg.data), name
    if ablation != "two_towers":  # the others keep experiment=cifar10's network
        assert cfg.model.net.variant == "cifar"


def test_a_bad_seeds_value_stops_the_sweep_before_any_job(tmp_path):
    result = run_sweep(tmp_path, "experiment=ablation/lrn", "seeds=0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: seeds=0 is invalid: it must be an integer >= 1, e.g. 3 "
        "(jobs per arm of experiment=ablation/* and figure1)"
    )
    assert not (tmp_path / "logs" / "train" / "multiruns").exists()  # no job, no sweep folder


def fake_job(
    sweep: Path,
    number: int,
    overrides: list[str],
    config: dict,
    metrics: dict,
    curves: dict[str, list[float]] | None = None,
) -> None:
    """A finished job folder as a sweep leaves it: .hydra files, metrics.json, job.json and
    TensorBoard events with one value per epoch (logged at the epoch's last step, with the
    0-based epoch beside it, as Lightning does, and the test stage's epoch at the last step)."""
    job = sweep / str(number)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (job / "metrics.json").write_text(json.dumps(metrics))
    write_job_record(job, state="complete", wall_s=1.0)
    if curves:
        writer = SummaryWriter(str(job / "tensorboard"))
        for tag, values in curves.items():
            for epoch, value in enumerate(values):
                writer.add_scalar(tag, value, global_step=10 * (epoch + 1))
                writer.add_scalar("epoch", epoch, global_step=10 * (epoch + 1))
        # the test stage logs the epoch after the last at the last training step
        last = max(len(values) for values in curves.values())
        writer.add_scalar("epoch", last, global_step=10 * last)
        writer.close()


def read_groups(sweep: Path) -> dict[str, dict]:
    with open(sweep / "groups.csv") as file:
        return {row["group"]: row for row in csv.DictReader(file)}


def arm(name: str, role: str) -> dict:
    return {"arm": {"ablation": "lrn", "role": role, "label": name}}


def test_seed_groups_give_exact_means_deviations_and_differences(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"optimized_metric": "val/acc_best"}))
    baseline = [(0.50, 0.40), (0.60, 0.50), (0.70, 0.60)]
    variant = [(0.65, 0.55), (0.70, 0.60), (0.75, 0.65)]
    job = 0
    for name, role, results in (("lrn_off", "baseline", baseline), ("lrn_on", "variant", variant)):
        for seed, (val, test) in enumerate(results):
            error = [0.6, 0.3, 0.2] if role == "variant" else [0.7, 0.5, 0.4, 0.3, 0.2]
            fake_job(
                sweep,
                job,
                [f"+arm={name}", f"seed={seed}"],
                arm(name, role),
                {"val/acc_best": val, "test/acc": test},
                {"train/error": error[: 3 + seed], "val/acc": [0.3, 0.4, 0.5]},
            )
            job += 1
    write_report(sweep, "val/acc_best")

    groups = read_groups(sweep)
    off, on = groups["+arm=lrn_off"], groups["+arm=lrn_on"]
    assert (off["role"], on["role"], off["jobs"], on["jobs"]) == ("baseline", "variant", "3", "3")
    assert float(off["val/acc_best mean"]) == pytest.approx(0.60)
    assert float(off["val/acc_best std"]) == pytest.approx(0.10)
    assert float(off["test/acc mean"]) == pytest.approx(0.50)
    assert float(on["val/acc_best mean"]) == pytest.approx(0.70)
    assert float(on["val/acc_best std"]) == pytest.approx(0.05)
    assert float(on["val/acc_best diff"]) == pytest.approx(0.10)
    assert float(on["test/acc diff"]) == pytest.approx(0.10)
    assert off["val/acc_best diff"] == "" and on["paper"] == PAPER_EFFECTS["lrn"]
    # first epoch below 25% train error: the variant's 3rd, the baseline's 5th (seed 2 only:
    # the others stopped before it)
    assert (float(on["epochs to target mean"]), on["reached"]) == (3.0, "3")
    assert (float(off["epochs to target mean"]), off["reached"]) == (5.0, "1")

    report = (sweep / "summary.md").read_text()
    assert "| `+arm=lrn_off` | 3 | 60.00 ± 10.00 | 50.00 ± 10.00 | 5.0 (1 of 3) |" in report
    assert "| `+arm=lrn_on` | 3 | 70.00 ± 5.00 | 60.00 ± 5.00 | 3.0 ± 0.0 (3 of 3) |" in report
    row = next(line for line in report.splitlines() if line.startswith("| lrn | variant"))
    assert "| +10.00 | +10.00 |" in row and "13% -> 11%" in row
    # +10 points against a standard error of sqrt(0.1^2 / 3 + 0.05^2 / 3) = 6.45 points
    assert row.endswith("| within noise (+1.55 se) |")
    assert on["verdict"] == "within noise (+1.55 se)"
    assert (
        f"| lrn | lrn_off | 50.00 ± 10.00 | 60.00 ± 5.00 | +10.00 | {PAPER_EFFECTS['lrn']} | "
        "within noise (+1.55 se) |"
    ) in report  # one row per idea
    assert (sweep / "plots" / "ablation_lrn.png").stat().st_size > 5000


def seed_group(ablation: str, role: str, test_acc: list[float]) -> SeedGroup:
    rows = [{"state": "complete", "test/acc": str(v)} for v in test_acc]
    config = OmegaConf.create({"arm": {"ablation": ablation, "role": role, "label": role}})
    return SeedGroup(f"+arm={role}", rows, [config] * len(rows))


@pytest.mark.parametrize(
    ("baseline", "variant", "expected"),
    [
        ([0.70, 0.71, 0.72], [0.74, 0.75, 0.76], "agrees (+4.90 se)"),  # +4 points, se 0.82
        ([0.74, 0.75, 0.76], [0.70, 0.71, 0.72], "disagrees (-4.90 se)"),
        ([0.70, 0.72], [0.71, 0.73], "within noise (+0.71 se)"),  # +1 point, se 1.41
        ([0.70, 0.70], [0.71, 0.71], "agrees (+inf se)"),  # seeds agree exactly: no noise
        ([0.70, 0.70], [0.70, 0.70], "within noise (+0.00 se)"),
        ([0.70], [0.75, 0.76], "one seed: no verdict"),
    ],
)
def test_verdict_weighs_the_difference_against_its_standard_error(baseline, variant, expected):
    groups = [seed_group("lrn", "baseline", baseline), seed_group("lrn", "variant", variant)]
    assert verdict(groups[1], groups[0]) == expected
    assert verdict(groups[1], None) == "no baseline"


def test_figure1_report_gives_epochs_time_and_the_ratio_per_condition(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"figure1": {"target_error": 0.25}}))
    relu = [[0.6, 0.4, 0.2], [0.5, 0.3, 0.24]]  # 3 epochs each
    tanh = [[0.7, 0.6, 0.5, 0.4, 0.3, 0.24], [0.7, 0.5, 0.45, 0.4, 0.35, 0.3, 0.2]]  # 6, 7
    slow_tanh = [[0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.26]]  # never below 25%
    plain = ["model.net.init_weights=false"]  # a second condition: 2 and 4 epochs
    settings = [
        ([], "relu", 0.02, relu),
        ([], "tanh", 0.02, tanh),
        ([], "tanh", 0.01, slow_tanh),
        (plain, "relu", 0.02, [[0.5, 0.2]]),
        (plain, "tanh", 0.02, [[0.6, 0.4, 0.3, 0.2]]),
        # a third where tanh never gets there: a lower bound
        (["model.optimizer.momentum=0"], "relu", 0.02, [[0.5, 0.4, 0.3, 0.2]]),
        (["model.optimizer.momentum=0"], "tanh", 0.02, [[0.7, 0.6, 0.5, 0.45, 0.4, 0.3]]),
    ]
    job = 0
    for extra, activation, lr, runs in settings:
        for seed, error in enumerate(runs):
            config = {"model": {"net": {"activation": activation}, "optimizer": {"lr": lr}}}
            seconds = [2.0 * (e + 1) for e in range(len(error))]  # 2 s per epoch
            overrides = [*extra, f"model.net.activation={activation}", f"model.optimizer.lr={lr}"]
            fake_job(
                sweep,
                job,
                [*overrides, f"seed={seed}"],
                config,
                {"val/acc_best": 0.5, "test/acc": 0.5},
                {"train/error": error, "train/time_s": seconds},
            )
            job += 1
    write_report(sweep, "val/acc_best")

    report = (sweep / "summary.md").read_text()
    assert "| (as configured) | relu | 0.02 | 2 | 3.0 ± 0.0 | 6.0 ± 0.0 | 2 of 2 |" in report
    assert "| (as configured) | tanh | 0.02 | 2 | 6.5 ± 0.7 | 13.0 ± 1.4 | 2 of 2 |" in report
    assert "| (as configured) | tanh | 0.01 | 1 | - | - | 0 of 1 |" in report
    assert "| model.net.init_weights=false | tanh | 0.02 | 1 | 4.0 | 8.0 | 1 of 1 |" in report
    assert "tanh / ReLU, each at its fastest learning rate (the paper: 6x):" in report
    assert (
        "- (as configured): 6.5 / 3.0 epochs = **2.17x**; in training time 13.0 / 6.0 s = 2.17x."
    ) in report
    assert (
        "- `model.net.init_weights=false`: 4.0 / 2.0 epochs = **2.00x**; "
        "in training time 8.0 / 4.0 s = 2.00x."
    ) in report
    assert (
        "- `model.optimizer.momentum=0`: more than 6 / 4.0 epochs = **> 1.50x** (tanh did not "
        "reach 25% training error in the 6 epochs it ran at any learning rate"
    ) in report
    for plot in ("figure1.png", "figure1_2.png", "figure1_3.png"):
        assert (sweep / "plots" / plot).stat().st_size > 5000


# --- tiny sweeps through scripts/train.py -m ---------------------------------------------------

# A few batches per job from a generated archive in CIFAR-10's format (60 training images,
# 12 of them for validation, 10 test images), one seed per arm.
TINY = [
    "data.val_size=12",
    "data.batch_size=8",
    "data.num_workers=0",
    "data.persistent_workers=false",
    "seeds=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "callbacks.rich_progress_bar=null",
    "callbacks.rich_model_summary=null",
]


def tiny_cifar10(tmp: Path) -> list[str]:
    """The archive where data=cifar10 looks for it (so nothing is downloaded), and TINY."""
    (tmp / "data").mkdir()
    md5 = write_cifar10_archive(tmp / "data" / ARCHIVE, per_batch=12, test=10, seed=0)
    return [f"data.md5={md5}", *TINY]


def only_sweep(tmp: Path) -> Path:
    (sweep,) = (tmp / "logs" / "train" / "multiruns").iterdir()
    return sweep


def swept(row: dict, column: str = "overrides") -> str:
    """The overrides a sweeper set (the arm or activation, and the seed): the first ones."""
    return " ".join(o for o in row[column].split() if o.split("=")[0] in SWEPT)


SWEPT = {"+arm", "model.net.activation", "seed"}


def job_metrics(sweep: Path, job: str) -> dict:
    return json.loads((sweep / job / "metrics.json").read_text())


@pytest.mark.slow
def test_two_job_ablation_runs_both_arms_and_writes_its_table_and_plot(tmp_path):
    result = run_sweep(
        tmp_path, "experiment=ablation/lrn", *tiny_cifar10(tmp_path), "trainer.max_epochs=2"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = only_sweep(tmp_path)
    rows = read_summary(sweep)
    assert [(swept(r), r["state"], r["epochs"]) for r in rows] == [
        ("+arm=lrn_off seed=0", "complete", "2"),
        ("+arm=lrn_on seed=0", "complete", "2"),
    ]
    for row, lrn in zip(rows, (False, True), strict=True):
        config = yaml.safe_load((sweep / row["job"] / ".hydra" / "config.yaml").read_text())
        assert (config["model"]["net"]["variant"], config["model"]["net"]["lrn"]) == ("cifar", lrn)
        metrics = job_metrics(sweep, row["job"])
        assert metrics["train/error"] == pytest.approx(1 - metrics["train/acc"], abs=1e-6)
    groups = {swept(g, "group"): g for g in read_groups(sweep).values()}
    off, on = groups["+arm=lrn_off"], groups["+arm=lrn_on"]
    assert (off["role"], on["role"]) == ("baseline", "variant")
    for metric in ("val/acc_best", "test/acc"):
        assert float(off[f"{metric} mean"]) == float(rows[0][metric])
        assert float(on[f"{metric} diff"]) == pytest.approx(
            float(rows[1][metric]) - float(rows[0][metric])
        )
    report = (sweep / "summary.md").read_text()
    assert "## Ablations" in report and PAPER_EFFECTS["lrn"] in report
    assert (sweep / "plots" / "ablation_lrn.png").stat().st_size > 5000


@pytest.mark.slow
def test_tiny_figure1_stops_each_activation_at_the_target_and_reports_the_ratio(tmp_path):
    # every run reaches a 100% target in its first epoch: EarlyStopping must end it there
    result = run_sweep(
        tmp_path,
        "experiment=figure1",
        *tiny_cifar10(tmp_path),
        "trainer.max_epochs=3",
        "trainer.limit_train_batches=6",
        "figure1.target_error=1.0",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = only_sweep(tmp_path)
    rows = read_summary(sweep)
    assert [(swept(r), r["epochs"]) for r in rows] == [
        ("model.net.activation=relu seed=0", "1"),
        ("model.net.activation=tanh seed=0", "1"),
    ]
    for row in rows:
        config = yaml.safe_load((sweep / row["job"] / ".hydra" / "config.yaml").read_text())
        assert config["model"]["net"]["dropout"] == 0.0 and config["data"]["hflip"] is False
        metrics = job_metrics(sweep, row["job"])
        assert metrics["train/error"] < 1.0 and metrics["train/time_s"] > 0
    report = (sweep / "summary.md").read_text()
    assert "| relu | 0.02 | 1 | 1.0 | " in report and "| tanh | 0.02 | 1 | 1.0 | " in report
    assert "- (as configured): 1.0 / 1.0 epochs = **1.00x**; in training time" in report
    assert (sweep / "plots" / "figure1.png").stat().st_size > 5000


def test_a_sweep_without_seeds_arms_or_figure1_gets_no_seed_sections(tmp_path):
    """A grid over lr, and an Optuna trial run again after a killed sweep (same overrides)."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"optimized_metric": "val/acc_best"}))
    for job, lr in enumerate((0.01, 0.02, 0.02)):
        metrics = {"val/acc_best": 0.5, "test/acc": 0.5}
        fake_job(sweep, job, [f"model.optimizer.lr={lr}", "seed=7"], {}, metrics)
    write_report(sweep, "val/acc_best")
    assert "## Over seeds" not in (sweep / "summary.md").read_text()
    assert not (sweep / "groups.csv").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("figure1.target_error=0", "figure1.target_error=0 is invalid: it must be a number in"),
        ("model.net.activation=softplus", "model.net.activation='softplus' is invalid"),
    ],
)
def test_bad_figure1_values_name_their_key(override, message, tmp_path):
    cfg = compose_config("train", ["experiment=figure1", override], tmp_path)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config(cfg)


# What each of conf/figure1_condition/ changes from experiment=figure1 as configured.
FIGURE1_CONDITIONS = {
    "as_configured": {},
    "default_init": {"model.net.init_weights": False},
    "unnormalized": {"data.normalize": False},
    "no_momentum": {"model.optimizer.momentum": 0.0},
}


def test_each_figure1_condition_changes_one_setting_and_checks(tmp_path):
    assert sorted(p.stem for p in (CONF / "figure1_condition").glob("*.yaml")) == sorted(
        FIGURE1_CONDITIONS
    )
    reference = OmegaConf.to_container(
        compose_config("train", ["experiment=figure1"], tmp_path), resolve=True
    )
    for name, changes in FIGURE1_CONDITIONS.items():
        cfg = compose_config(
            "train", ["experiment=figure1", f"+figure1_condition={name}"], tmp_path
        )
        check_config(cfg)
        built = OmegaConf.to_container(cfg, resolve=True)
        for key, value in changes.items():
            assert (
                OmegaConf.select(cfg, key)
                == value
                != OmegaConf.select(OmegaConf.create(reference), key)
            ), (name, key)
            OmegaConf.update(cfg, key, OmegaConf.select(OmegaConf.create(reference), key))
        assert OmegaConf.to_container(cfg, resolve=True) == reference, name
        assert built != reference or not changes


def test_training_time_leaves_validation_and_the_sanity_check_out(monkeypatch):
    from types import SimpleNamespace

    from alexnet_lightning.callbacks import train_time

    # sanity check 0-3 s, epoch 1: 3-23 s with validation 13-17 s, epoch 2: 23-28 s
    ticks = iter([3.0, 13.0, 17.0, 23.0, 23.0, 28.0])
    monkeypatch.setattr(train_time.time, "perf_counter", lambda: next(ticks))
    logged: dict[str, float] = {}
    module = SimpleNamespace(log=lambda name, value: logged.__setitem__(name, value))
    sanity, fitting = SimpleNamespace(sanity_checking=True), SimpleNamespace(sanity_checking=False)
    clock = train_time.TrainingTime()
    clock.on_validation_start(sanity, module)
    clock.on_validation_end(sanity, module)
    clock.on_train_epoch_start(fitting, module)
    clock.on_validation_start(fitting, module)
    clock.on_validation_end(fitting, module)
    clock.on_train_epoch_end(fitting, module)
    assert logged["train/time_s"] == 16.0  # 20 s of epoch, 4 of them validating
    clock.on_train_epoch_start(fitting, module)
    clock.on_train_epoch_end(fitting, module)
    assert logged["train/time_s"] == 21.0
    resumed = train_time.TrainingTime()
    resumed.load_state_dict(clock.state_dict())
    assert resumed.total == 21.0  # a resumed run keeps counting
