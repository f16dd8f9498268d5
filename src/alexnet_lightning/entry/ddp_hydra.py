"""DDP under Hydra: the processes of other ranks join rank 0's run folder instead of making one.

Lightning's DDP launcher starts ranks 1..N-1 by running ``sys.argv`` again, and under Hydra
its helper (``_hydra_subprocess_cmd``) adds ``hydra.run.dir=<hydra.run.dir>``. That holds for a
single run, but in a sweep ``sys.argv`` is the whole sweep (``-m``, comma lists, or a
sweeper's search space) and ``hydra.run.dir`` is not the job's folder, so every rank would
start the sweep again in folders of its own. We rebuild the command from this job's own
overrides and its resolved output folder, which is right for single runs and sweep jobs,
and leave Hydra's logging off in those ranks so that rank 0 alone writes the run's log file.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_original_cwd, to_absolute_path

from alexnet_lightning.compat import start_ddp_ranks_with


def rank_command(local_rank: int) -> tuple[Sequence[str], str]:
    """The command line and working folder of the process of ``local_rank``."""
    import __main__  # imported late, as Lightning does (lightning issue 15218)

    hydra_cfg = HydraConfig.get()
    if __main__.__spec__ is None:
        command = [sys.executable, to_absolute_path(sys.argv[0])]
    else:
        command = [sys.executable, "-m", __main__.__spec__.name]
    command += list(hydra_cfg.overrides.task)
    command += [
        f"hydra.run.dir={hydra_cfg.runtime.output_dir}",
        "hydra.output_subdir=null",  # rank 0 already wrote .hydra/
        f"hydra.job.name={hydra_cfg.job.name}_rank{local_rank}",
        "hydra/hydra_logging=none",
        "hydra/job_logging=none",  # rank 0's log file is not shared
    ]
    return command, get_original_cwd()


def use_run_folder_of_rank_zero() -> None:
    """Make Lightning's DDP launcher start the other ranks with ``rank_command``."""
    if HydraConfig.initialized():
        start_ddp_ranks_with(rank_command)
