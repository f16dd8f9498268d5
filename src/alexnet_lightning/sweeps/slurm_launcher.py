"""Before a sweep submits anything to SLURM: is there a cluster, and does it have the partition?

submitit finds out at the first ``sbatch``, with a traceback (no srun: "Could not detect srun,
are you indeed on a slurm cluster?"; a wrong partition: sbatch's "invalid partition name"
inside a CalledProcessError); checked here first, each is one line naming the fix, and no job
is queued.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from omegaconf import DictConfig, OmegaConf

from alexnet_lightning.errors import ConfigError

LOCAL_CLUSTER = 'eval "$(scripts/slurm_local.sh up)"'


def uses_slurm(config: DictConfig) -> bool:
    target = str(config.hydra.launcher.get("_target_", ""))
    return target.endswith("submitit_launcher.SlurmLauncher")


def _launcher_name(config: DictConfig) -> str:
    choice = OmegaConf.select(config, "hydra.runtime.choices", default={}).get("hydra/launcher")
    return f"hydra/launcher={choice or 'slurm'}"


def check_slurm(config: DictConfig) -> None:
    """Raise ConfigError unless SLURM answers here and knows ``hydra.launcher.partition``."""
    if not uses_slurm(config):
        return
    name = _launcher_name(config)
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        raise ConfigError(
            f"{name} submits jobs to SLURM, but there is no sbatch here: run the sweep on the "
            f"cluster's login node, start the local cluster ({LOCAL_CLUSTER}), or use "
            "hydra/launcher=submitit_local"
        )
    try:
        answer = subprocess.run(
            ["sinfo", "--noheader", "--format=%R"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        answer = subprocess.CompletedProcess([], 1, "", "no answer in 30 s")
    if answer.returncode != 0:
        said = (answer.stderr or answer.stdout).strip().splitlines()
        raise ConfigError(
            f"{name}: SLURM does not answer (sinfo: {said[-1] if said else 'no output'}); check "
            f"SLURM_CONF, or start the local cluster ({LOCAL_CLUSTER})"
        )
    partitions = sorted({p.strip() for p in answer.stdout.split()})
    wanted = config.hydra.launcher.get("partition")
    if wanted and wanted not in partitions:
        raise ConfigError(
            f"hydra.launcher.partition={wanted} is not a partition of this cluster (it has "
            f"{', '.join(partitions) or 'none'}); pass one of them"
        )


def stop_unless_slurm_answers(config: DictConfig) -> None:
    """``check_slurm`` for a sweeper: its message alone on stderr, exit status 2."""
    try:
        check_slurm(config)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
