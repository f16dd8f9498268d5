"""Training steps do not wait for the device, a diverging loss still stops the run at the
right step, and every run logs its images/s and per-step loss to TensorBoard."""

from __future__ import annotations

import math
import traceback

import lightning as L
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from alexnet_lightning.entry.train import train
from alexnet_lightning.errors import TrainingDiverged
from tests.conftest import TINY_SHAPES, compose_config

# What makes the host wait for a GPU: reading a device value into Python, or an op whose
# output size depends on device values. On the CPU these are counted as stand-ins.
SYNCING = {
    torch.Tensor: ("item", "tolist", "__bool__", "__int__", "__float__", "nonzero", "unique"),
    torch: ("unique", "nonzero", "masked_select"),
}
calls: list[str] = []  # where each sync came from, in order
marks: list[tuple[int, int]] = []  # (global step, len(calls)) at each training batch start
injected: dict[str, int] = {}
counting_now = [False]  # only inside training epochs (the rest of the run is not counted)


class StepMarks(L.Callback):
    """Splits the counted syncs by training step; optionally poisons the weights at a step."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        counting_now[0] = True
        marks.append((trainer.global_step, len(calls)))
        if trainer.global_step == injected.get("nan_at"):
            with torch.no_grad():
                pl_module.net.classifier[-1].weight.fill_(math.nan)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        counting_now[0] = False

    def on_validation_start(self, trainer, pl_module) -> None:
        counting_now[0] = False


@pytest.fixture
def counted(monkeypatch):
    calls.clear(), marks.clear(), injected.clear()
    counting_now[0] = False

    def counting(name, original):
        def wrapper(*args, **kwargs):
            if not counting_now[0]:
                return original(*args, **kwargs)
            stack = "".join(traceback.format_stack(limit=8)[:-1])
            # the loader's sampler runs in this process on host tensors by design
            if "torch/utils/data/" not in stack:
                calls.append(f"{name}\n{stack}")
            return original(*args, **kwargs)

        return wrapper

    for owner, names in SYNCING.items():
        for name in names:
            monkeypatch.setattr(owner, name, counting(name, getattr(owner, name)))


def _config(tmp_path, *overrides):
    return compose_config(
        "train",
        [
            *TINY_SHAPES,
            "data.batch_size=4",  # 12 steps an epoch
            # the loader as users run it: its work happens in the worker, not counted here
            "data.num_workers=1",
            "data.persistent_workers=true",
            "trainer.log_every_n_steps=1",  # logging at every step: the worst case
            "test=false",
            "+callbacks.step_marks._target_=tests.models.test_divergence.StepMarks",
            *overrides,
        ],
        tmp_path,
    )


def test_training_steps_sync_only_for_the_periodic_divergence_check(tmp_path, counted, monkeypatch):
    every = 4
    train(
        _config(
            tmp_path, "trainer.max_epochs=1", f"callbacks.loss_watch.check_every_n_steps={every}"
        )
    )
    # syncs between the start of one batch and the next, within an epoch (epoch ends compute
    # and log the epoch's metrics, which is allowed to wait)
    per_step = [
        (step, calls[start:end])
        for (step, start), (next_step, end) in zip(marks, marks[1:], strict=False)
        if next_step == step + 1 and next_step % 12 != 0
    ]
    assert len(per_step) == 11
    for step, synced in per_step:
        due = (step + 1) % every == 0  # global_step after this step's optimizer step
        assert len(synced) == int(due), f"step {step}:\n" + "\n".join(synced)

    run = tmp_path / "run" / "tensorboard" / "run"  # tensorboard/<run folder's name>/
    events = EventAccumulator(str(run), size_guidance={"scalars": 0})
    events.Reload()
    rates = [event.value for event in events.Scalars("train/images_per_s")]
    assert len(rates) >= 11  # every step (log_every_n_steps=1)
    # a batch of 4 64-pixel images through AlexNet takes well over 1 ms and under 10 s here
    assert all(4 / 10 < rate < 4 / 1e-3 for rate in rates), rates
    # the per-step loss, written at the periodic looks without a sync of its own: every step,
    # and the epoch mean (12 batches of 4) is still the mean of the batches' losses
    step_losses = events.Scalars("train/loss_step")
    assert [event.step for event in step_losses] == list(range(12))
    (epoch_mean,) = events.Scalars("train/loss")
    mean = sum(event.value for event in step_losses) / 12
    assert epoch_mean.value == pytest.approx(mean, rel=1e-5)


@pytest.mark.parametrize("every", [4, 50])  # found by the periodic look / before a checkpoint
def test_divergence_names_the_first_bad_step_and_no_later_checkpoint(
    tmp_path, counted, monkeypatch, every
):
    injected["nan_at"] = 5
    every_n = f"callbacks.loss_watch.check_every_n_steps={every}"
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 5\b") as err:
        train(_config(tmp_path, "trainer.max_epochs=1", every_n))
    # the first checkpoint would have been the end of epoch 0, after the loss went bad
    assert "Last good checkpoint: none saved yet" in str(err.value)
    assert not list((tmp_path / "run" / "checkpoints").glob("*.ckpt"))
    # the periodic look found it at the first check after step 5; otherwise the epoch end did
    assert max(step for step, _ in marks) == (7 if every == 4 else 11)
