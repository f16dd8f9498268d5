"""eval.py with several checkpoints: Section 6's ensemble (mean of the softmaxes)."""

from __future__ import annotations

import pytest
import torch
import yaml
from hydra.utils import instantiate

from alexnet_lightning.checkpoints import load_classifier
from alexnet_lightning.entry.ensemble import sweep_checkpoints
from alexnet_lightning.entry.evaluate import evaluate
from alexnet_lightning.entry.neighbours import split_batches
from alexnet_lightning.errors import CheckpointError
from tests.checkpoint_files import write_checkpoint
from tests.conftest import TINY_DATA, compose_config
from tests.runs import run_script


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Two differently seeded checkpoints and the tiny shapes data they are evaluated on."""
    root = tmp_path_factory.mktemp("ensemble")
    return {
        "a": write_checkpoint(root / "a.ckpt", seed=0),
        "b": write_checkpoint(root / "b.ckpt", seed=1),
        "data": root / "data",
    }


def _eval(shared, tmp_path, *overrides):
    cfg = compose_config(
        "eval", [*TINY_DATA, f"paths.data_dir={shared['data']}", *overrides], tmp_path
    )
    return evaluate(cfg), cfg


def test_ensemble_of_two_copies_equals_the_checkpoint(shared, tmp_path, capsys):
    a = shared["a"]
    single, _ = _eval(shared, tmp_path / "one", f"ckpt_path={a}", "tta=ten_crop")
    pair, _ = _eval(shared, tmp_path / "two", f"ckpt_path=[{a},{a}]", "tta=ten_crop")
    for suffix in ("", "_ten_crop"):
        for stat in ("acc", "acc_top5"):
            expected = single[f"test/{stat}{suffix}"]
            for who in ("member0", "member1", "member_mean", "ensemble"):
                assert pair[f"test/{who}/{stat}{suffix}"] == pytest.approx(expected, abs=1e-6)
    shown = capsys.readouterr().out
    assert "ensemble" in shown and "mean of the members" in shown and "ten-crop" in shown
    assert f"member 1: {a}" in shown.replace("\n", "")
    assert "test/acc" not in shown  # Lightning's unlabelled tables are gone


def test_ensemble_of_two_networks_is_the_mean_of_their_softmaxes(shared, tmp_path):
    metrics, cfg = _eval(shared, tmp_path, f"ckpt_path=[{shared['a']},{shared['b']}]")
    models = [load_classifier(shared[k])[0] for k in ("a", "b")]
    datamodule = instantiate(cfg.data, test_split="test", image_size=64)
    datamodule.prepare_data()
    right, members_right, seen = 0, [0, 0], 0
    with torch.no_grad():
        for inputs, _, labels in split_batches(datamodule, torch.device("cpu")):
            probs = [m(inputs).softmax(dim=1) for m in models]
            right += int(((probs[0] + probs[1]) / 2).argmax(1).eq(labels).sum())
            for i, p in enumerate(probs):
                members_right[i] += int(p.argmax(1).eq(labels).sum())
            seen += len(labels)
    assert seen == 16  # 4 val images of 4 classes (shapes has no test split)
    assert metrics["test/ensemble/acc"] == pytest.approx(right / seen, abs=1e-6)
    for i in (0, 1):
        assert metrics[f"test/member{i}/acc"] == pytest.approx(members_right[i] / seen, abs=1e-6)
    assert metrics["test/member_mean/acc"] == pytest.approx(sum(members_right) / 2 / seen)


def test_mismatched_input_size_names_both_checkpoints(shared, tmp_path):
    small = write_checkpoint(tmp_path / "small.ckpt", image_size=32)
    with pytest.raises(CheckpointError, match=f"{shared['a']} and {small} disagree on image_size"):
        _eval(shared, tmp_path, f"ckpt_path=[{shared['a']},{small}]")


@pytest.mark.slow
def test_mismatched_classes_end_in_one_line_and_exit_2(shared, tmp_path):
    other = write_checkpoint(tmp_path / "three.ckpt", class_names=["a", "b", "c"])
    result = run_script(
        "eval.py",
        *TINY_DATA,
        f"paths.data_dir={shared['data']}",
        f"ckpt_path=[{shared['a']},{other}]",
        tmp=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    errors = [line for line in output.splitlines() if "disagree" in line]
    assert len(errors) == 1 and f"{shared['a']} and {other} disagree on classes" in errors[0]
    assert "Traceback" not in output


def test_sweep_gives_every_jobs_best_checkpoint_or_one_arms(tmp_path):
    for job, arm in enumerate(["one_tower", "two_towers", "one_tower", "two_towers"]):
        folder = tmp_path / str(job)
        (folder / ".hydra").mkdir(parents=True)
        overrides = [f"+arm={arm}", f"seed={job // 2}"]
        (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        if job != 3:  # a job that never wrote its checkpoint is left out
            write_checkpoint(folder / "checkpoints" / "best.ckpt", seed=job)
    best = [p.parents[1].name for p in sweep_checkpoints(tmp_path)]
    assert best == ["0", "1", "2"]
    assert [p.parents[1].name for p in sweep_checkpoints(tmp_path, "one_tower")] == ["0", "2"]
    with pytest.raises(CheckpointError, match="no job of arm lrn_on"):
        sweep_checkpoints(tmp_path, "lrn_on")
