#!/bin/bash
# Training as a SLURM batch job that survives preemption and time limits:
#   sbatch --time=240 --signal=USR1@90 scripts/slurm_train.sh experiment=imagenet_subset
#   sbatch --nodes=2 --ntasks-per-node=4 --gpus-per-node=4 scripts/slurm_train.sh \
#       trainer=ddp_multinode trainer.num_nodes=2 trainer.devices=4 ...
# Its arguments are train.py's overrides. At --signal's warning before the time limit, Lightning
# saves hpc_ckpt_<n>.ckpt and requeues the job; the requeue's SIGTERM (as a preemption's)
# makes the run save checkpoints/last.ckpt at the next batch boundary and stop. A restarted job
# (SLURM_RESTART_COUNT > 0) continues from the newest last.ckpt of its experiment.
#SBATCH --job-name=alexnet
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --ntasks-per-node=1
set -euo pipefail
resume=null
if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then resume=last; fi
srun "${PYTHON:-python}" scripts/train.py "$@" ckpt_path="$resume"
