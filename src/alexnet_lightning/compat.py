"""The private APIs of Lightning, Hydra and torch that the project needs, in one place.

Everything else uses public APIs. Each entry says what it wraps and why no public route does
the job, the version it was written against, and the test that fails when a new version
changes it. After upgrading one of these libraries, run ``pytest tests/test_compat.py`` first
(seconds), then the tests named below.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

# Hydra imports the sweeper plugins, and so this module, at every start: nothing heavy at the
# top (the Lightning and torch types are for annotations only).
if TYPE_CHECKING:
    import lightning as L
    import torch
    from lightning.fabric.plugins.environments import ClusterEnvironment
    from torch.utils.tensorboard import SummaryWriter

# --- Hydra (written against hydra-core 1.3.8) ---------------------------------------------

# BasicSweeper: Hydra's grid sweeper (cartesian product of `key=a,b` lists, `params` from the
# config, batches of `max_batch_size`). Hydra has no public grid sweeper to build on, and our
# GridSweeper (its loop: alexnet_lightning.sweeps.grid) only changes what happens around its
# batches.
# Uses: split_arguments, _parse_config (sweep_params), is_done, get_job_batch,
# max_batch_size, overrides.
# Caught by: tests/sweeps/test_grid.py::test_grid_sweeper_expands_the_grid_with_hydra_basic_sweeper
# (fast) and test_grid_2x2_writes_four_run_folders_and_the_report.


def basic_sweeper() -> type:
    """Hydra's BasicSweeper class as it is now. Looked up at each call, not imported once:
    Hydra's plugin scan executes its plugin modules again, rebinding the class, and
    BasicSweeper.__init__ names its own class (``super(BasicSweeper, self)``), so a subclass
    of an earlier binding fails. The subclass is made in our plugin module, which the same
    scan executes again right after Hydra's own."""
    from hydra._internal.core_plugins import basic_sweeper as module

    return module.BasicSweeper


def sweep_params(sweeper: Any) -> list[str]:
    """The ``hydra.sweeper.params`` of the config as override strings (``key=a,b``).

    Wraps ``BasicSweeper._parse_config()``: Hydra turns the params mapping into overrides only
    there, and our sweep loop parses them together with the command line's arguments.
    Caught by: tests/test_compat.py::test_sweep_params_are_hydras_overrides_of_the_config.
    """
    return sweeper._parse_config()


# --- Lightning (written against lightning 2.6.6) ---------------------------------------------

RankCommand = Callable[[int], tuple[Sequence[str], str]]


def start_ddp_ranks_with(command: RankCommand) -> None:
    """Make Lightning's DDP launcher start ranks 1..N-1 with ``command(local_rank)`` ->
    (argv, working folder) when Hydra is running.

    Wraps ``lightning.pytorch.strategies.launchers.subprocess_script._hydra_subprocess_cmd``,
    which ``_SubprocessScriptLauncher`` calls under Hydra; the launcher takes no command of
    ours, and its own re-runs the whole sweep in every rank (see entry/ddp_hydra.py).
    Caught by: tests/test_compat.py::test_lightning_starts_ddp_ranks_through_the_hydra_command
    (the name and its call), tests/test_distributed.py (a DDP run under Hydra).
    """
    from lightning.pytorch.strategies.launchers import subprocess_script

    subprocess_script._hydra_subprocess_cmd = command


def batches_taken_this_epoch(trainer: L.Trainer) -> int:
    """Training batches the fit loop has taken in the current epoch (the one whose
    ``on_train_batch_end`` is running included), not those the loader has prefetched.

    Wraps ``trainer.fit_loop.epoch_loop.batch_progress.current.ready``: the checkpointed count
    Lightning resumes its own loop from. Lightning would carry a loader's position itself
    through a loader with ``state_dict``, but skips restoring it when ``configure_optimizers``
    read ``trainer.estimated_stepping_batches`` (our step schedules do; Lightning bug 20550,
    watched by test_lightning_restores_a_loaders_state_only_without_estimated_stepping_batches).
    Caught by: tests/test_compat.py::test_batches_taken_this_epoch_counts_the_loops_batches,
    tests/test_resume.py::test_resume_is_bitwise_exact_with_any_loader_workers.
    """
    return int(trainer.fit_loop.epoch_loop.batch_progress.current.ready)


# LearningRateMonitor._check_duplicates_and_update_name(optimizer, name, ...): where Lightning
# turns each optimizer's base tag (``lr-<optimizer class>`` unless a scheduler config names
# it) into its tags, one per param group. Overridden by callbacks/lr_monitor.py to make the
# base ``train/lr`` whatever the optimizer: Lightning's only public naming route is a scheduler's
# ``name``, and runs without a scheduler must get the same tag.
# Caught by: tests/test_compat.py::test_learning_rate_tag_is_lr_whatever_the_optimizer.


def cluster_environment(trainer: L.Trainer) -> ClusterEnvironment | None:
    """The trainer's cluster environment (SLURM, torchelastic, ...), whatever its strategy.

    Wraps ``trainer._accelerator_connector.cluster_environment``, where Lightning's own signal
    handling (SLURM auto-requeue) looks; the public ``trainer.strategy.cluster_environment``
    exists on multi-process strategies only, and auto-requeue applies to one device too.
    Caught by: tests/test_compat.py::test_cluster_environment_is_the_trainers_plugin,
    tests/test_resume.py::test_sigusr1_on_slurm_saves_and_requeues_the_job.
    """
    return trainer._accelerator_connector.cluster_environment


# --- torch (written against torch 2.14.1) ----------------------------------------------------


def tensorboard_file_writer(writer: SummaryWriter) -> Any:
    """The ``FileWriter`` behind a ``SummaryWriter``, for writing a raw ``Summary`` proto (the
    HParams experiment and session summaries, see utils/hparams_session.py).

    Wraps ``SummaryWriter._get_file_writer()``, as Lightning's TensorBoardLogger.log_hyperparams
    does; SummaryWriter's public methods write TensorBoard's HParams protos only through
    ``add_hparams``, which writes them to a new sub-folder with an experiment of its own.
    Caught by: tests/test_compat.py::test_tensorboard_file_writer_writes_raw_summaries,
    tests/entry/test_train.py::test_tensorboard_events_hold_scalars_images_and_hparams.
    """
    return writer._get_file_writer()


def empty_shared(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised CPU tensor in shared memory, for a batch a loader worker fills.

    Wraps ``UntypedStorage._new_shared``, as ``default_collate`` does for the batches it builds
    in a worker: a batch in shared memory crosses to the main process as a handle, without a
    copy. The public route, ``Tensor.share_memory_()``, allocates the same block and then copies
    the tensor into it: one more pass over every batch a worker crops.
    Caught by: tests/test_compat.py::test_empty_shared_is_a_shared_tensor_of_that_shape,
    tests/data/test_packed.py::test_batches_are_the_same_with_loader_workers.
    """
    import torch

    storage = torch.UntypedStorage._new_shared(math.prod(shape) * dtype.itemsize)
    return torch.empty(0, dtype=dtype).set_(storage).view(shape)


__all__ = [
    "basic_sweeper",
    "batches_taken_this_epoch",
    "cluster_environment",
    "empty_shared",
    "start_ddp_ranks_with",
    "sweep_params",
    "tensorboard_file_writer",
]
