"""The private library APIs wrapped in alexnet_lightning.compat still do what we use them for.
Fast: run these first after upgrading Lightning, Hydra or torch."""

import inspect

import lightning as L
import pytest
import torch
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.strategies.launchers import subprocess_script
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter

from alexnet_lightning import compat


def test_lightning_starts_ddp_ranks_through_the_hydra_command(monkeypatch):
    launcher = inspect.getsource(subprocess_script._SubprocessScriptLauncher)
    assert "_hydra_subprocess_cmd(" in launcher  # the launcher still asks the module for it
    monkeypatch.setattr(subprocess_script, "_hydra_subprocess_cmd", None)

    def command(local_rank):
        return [f"rank{local_rank}"], "/"

    compat.start_ddp_ranks_with(command)
    assert subprocess_script._hydra_subprocess_cmd is command


def test_cluster_environment_is_the_trainers_plugin(tmp_path):
    slurm = SLURMEnvironment(auto_requeue=False)
    trainer = L.Trainer(
        accelerator="cpu", devices=1, plugins=[slurm], logger=False, default_root_dir=tmp_path
    )
    assert compat.cluster_environment(trainer) is slurm


def test_tensorboard_file_writer_writes_raw_summaries(tmp_path):
    writer = SummaryWriter(tmp_path)
    summary = Summary(value=[Summary.Value(tag="raw", simple_value=0.25)])
    compat.tensorboard_file_writer(writer).add_summary(summary)
    writer.close()
    (events,) = tmp_path.glob("events.out.tfevents.*")
    acc = EventAccumulator(str(events))
    acc.Reload()
    assert [event.value for event in acc.Scalars("raw")] == [0.25]


def test_empty_shared_is_a_shared_tensor_of_that_shape():
    batch = compat.empty_shared((2, 5, 5, 3), torch.uint8)
    assert batch.shape == (2, 5, 5, 3) and batch.dtype == torch.uint8
    assert batch.is_shared() and batch.is_contiguous()
    batch.fill_(7)
    assert int(batch.sum()) == 7 * 2 * 5 * 5 * 3


class _TinyModule(L.LightningModule):
    """One linear layer trained on random numbers, with the optimizer setup under test."""

    def __init__(self, optimizer: str, scheduled: bool, groups: int) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(4, 1) for _ in range(groups))
        self.optimizer, self.scheduled = optimizer, scheduled

    def training_step(self, batch, batch_idx):
        return sum(layer(batch[0]).pow(2).mean() for layer in self.layers)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 4)), 2)

    def configure_optimizers(self):
        groups = [{"params": layer.parameters()} for layer in self.layers]
        optimizer = getattr(torch.optim, self.optimizer)(groups, lr=0.1)
        if not self.scheduled:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1),
        }


@pytest.mark.parametrize(
    ("optimizer", "scheduled", "groups", "tags"),
    [
        ("SGD", False, 1, ["train/lr"]),
        ("AdamW", True, 1, ["train/lr"]),
        ("AdamW", False, 1, ["train/lr"]),
        ("SGD", True, 2, ["train/lr/pg1", "train/lr/pg2"]),
    ],
)
def test_learning_rate_tag_is_lr_whatever_the_optimizer(
    tmp_path, optimizer, scheduled, groups, tags
):
    from alexnet_lightning.callbacks.lr_monitor import StableLearningRateMonitor

    monitor = StableLearningRateMonitor(logging_interval="step")
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=2,
        log_every_n_steps=1,
        callbacks=[monitor],
        logger=CSVLogger(tmp_path),
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.fit(_TinyModule(optimizer, scheduled, groups))
    assert sorted(monitor.lrs) == tags
    assert all(len(values) == 2 for values in monitor.lrs.values())  # one per step
    assert set(tags) <= set(trainer.callback_metrics)


def test_sweep_params_are_hydras_overrides_of_the_config():
    from hydra_plugins.alexnet_sweepers.grid import GridSweeper

    sweeper = GridSweeper(max_batch_size=None, params={"seed": "0,1", "model.optimizer.lr": "0.1"})
    assert compat.sweep_params(sweeper) == ["seed=0,1", "model.optimizer.lr=0.1"]


def test_batches_taken_this_epoch_counts_the_loops_batches(tmp_path):
    taken = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            taken.append(compat.batches_taken_this_epoch(trainer))

    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=2,
        limit_train_batches=3,  # of 4
        callbacks=[Record()],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(_TinyModule("SGD", scheduled=False, groups=1))
    assert taken == [1, 2, 3, 1, 2, 3]
    assert compat.batches_taken_this_epoch(trainer) == 3


class _StatefulLoader(torch.utils.data.DataLoader):
    restored: list = []

    def state_dict(self):
        return {"position": 1}

    def load_state_dict(self, state_dict):
        _StatefulLoader.restored.append(state_dict)


@pytest.mark.parametrize("reads_estimate", [False, True])
def test_lightning_restores_a_loaders_state_only_without_estimated_stepping_batches(
    tmp_path, reads_estimate
):
    """Why the DataModule, not the loader, carries the data position (see
    compat.batches_taken_this_epoch): once configure_optimizers has read
    estimated_stepping_batches, as our step schedules do, Lightning never hands a stateful
    loader its saved state. When this fails for True, Lightning restores it: the sampler
    could then carry its own position."""

    class Module(_TinyModule):
        def train_dataloader(self):
            return _StatefulLoader(torch.utils.data.TensorDataset(torch.randn(8, 4)), 2)

        def configure_optimizers(self):
            if reads_estimate:
                assert self.trainer.estimated_stepping_batches == 4
            return super().configure_optimizers()

    class SaveAtStep2(L.Callback):  # in the middle of the 4-batch epoch, as a step checkpoint
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == 2:
                trainer.save_checkpoint(tmp_path / "mid.ckpt")

    def fit(*callbacks, ckpt_path=None):
        L.Trainer(
            accelerator="cpu",
            max_epochs=1,
            callbacks=list(callbacks),
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
            default_root_dir=tmp_path,
        ).fit(Module("SGD", scheduled=False, groups=1), ckpt_path=ckpt_path)

    fit(SaveAtStep2())
    _StatefulLoader.restored = []
    fit(ckpt_path=tmp_path / "mid.ckpt")
    assert _StatefulLoader.restored == ([] if reads_estimate else [{"position": 1}])
