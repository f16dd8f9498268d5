"""Processes of one run started by srun or torchrun: rank 0's folder is the run's folder.

``srun -N2 ... python scripts/train.py`` and ``torchrun --nnodes=2 ... scripts/train.py`` run
the script once per rank, and each process would make a run folder of its own (named by the
second it started in). Ranks above 0 write nothing of the run (checkpoints, TensorBoard, the
config tree and metrics.json are rank 0's; Lightning broadcasts the checkpoint folder), so
their Hydra folder (composed config, log) goes to a scratch folder outside ``logs/``, and the
run leaves exactly one folder. A Lightning-launched DDP rank gets rank 0's folder on its
command line instead (entry/ddp_hydra.py), and a sweep job's folder is fixed by the sweep.

The resolver ``rank_zero_dir`` (conf/hydra/default.yaml) is registered when this module is
imported: by every script through entry/cli.py, and by our Hydra plugin package, which Hydra
imports wherever it starts (a ``compose`` in a notebook or test too).
"""

from __future__ import annotations

import os
import tempfile

from omegaconf import OmegaConf


def launched_rank() -> int:
    """This process's global rank when srun (a step of several tasks) or torchrun started it;
    0 otherwise."""
    if "TORCHELASTIC_RUN_ID" in os.environ and "RANK" in os.environ:
        return int(os.environ["RANK"])
    if int(os.environ.get("SLURM_STEP_NUM_TASKS", "1")) > 1 and "SLURM_STEP_ID" in os.environ:
        return int(os.environ.get("SLURM_PROCID", "0"))
    return 0


def rank_zero_dir(run_dir: str) -> str:
    """``run_dir`` for rank 0; a scratch folder for the other ranks of an srun/torchrun launch."""
    rank = launched_rank()
    if rank == 0:
        return run_dir
    job = os.environ.get("SLURM_JOB_ID", os.environ.get("TORCHELASTIC_RUN_ID", "local"))
    return os.path.join(
        tempfile.gettempdir(), "alexnet_lightning", f"{job}-{os.getpid()}-rank{rank}"
    )


OmegaConf.register_new_resolver("rank_zero_dir", rank_zero_dir, replace=True)
