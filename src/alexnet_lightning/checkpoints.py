"""Checkpoints: written atomically, read with one clear error per fault, and found for a resume.

- ``AtomicCheckpointIO``: the trainer's checkpoint plugin (conf/trainer/default.yaml).
- ``read_checkpoint``, ``load_classifier``, ``check_fits``, ``check_resumable``: opening a
  checkpoint for eval, predict or a resume.
- ``find_last_checkpoint`` (``ckpt_path=last``) and ``requeued_checkpoint`` (SLURM requeue):
  which checkpoint a run continues.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from omegaconf import OmegaConf

from alexnet_lightning.errors import CheckpointError
from alexnet_lightning.files import write_atomic
from alexnet_lightning.models.classifier import AlexNetClassifier
from alexnet_lightning.models.net import built_value, current_spec
from alexnet_lightning.models.variants import net_name

# The switches that change the layers: an activation swapped under loaded weights would load
# silently.
LAYER_SWITCHES = ("activation", "lrn", "pool", "groups")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes checkpoints through ``files.write_atomic`` (temp file, fsync, rename).

    Lightning's own writer (an fsspec transaction) writes to a file in the system temp folder
    and moves it over without fsync: when that folder is on another disk (a node's /tmp, a
    shared checkpoint disk) the move copies into the final path, so a process killed then, or
    a node losing power, can leave a truncated ``last.ckpt``. Here the temp file sits beside
    the checkpoint and is renamed: readers see the old file or the new one, never half of one.
    Loading always uses ``weights_only=True``: our checkpoints hold only tensors and plain
    containers.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        path = Path(path)
        had_previous = path.exists()
        try:
            write_atomic(path, lambda file: torch.save(checkpoint, file))
        except (OSError, RuntimeError) as error:
            refused = _file_system_error(error)
            if refused is None:
                raise
            raise CheckpointError(
                _write_failure(path, _tensor_bytes(checkpoint), refused, had_previous)
            ) from error

    def load_checkpoint(
        self,
        path: str | Path,
        map_location: Callable | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        return super().load_checkpoint(path, map_location=map_location, weights_only=True)


def _file_system_error(error: BaseException) -> OSError | None:
    """The OSError behind a failed write, if any.

    torch.save reports a full disk as ``RuntimeError: ... unexpected pos 14999936 vs 14999824``
    (or "file write failed"), raised while the OSError it hit (ENOSPC, EDQUOT, EFBIG) is being
    handled; the OSError names the real cause, so we look for it along the chain.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _tensor_bytes(value: Any) -> int:
    """Bytes of the tensors in a checkpoint: about the size of the file it makes."""
    if isinstance(value, torch.Tensor):
        return value.nbytes
    if isinstance(value, dict):
        return sum(_tensor_bytes(item) for item in value.values())
    if isinstance(value, list | tuple):
        return sum(_tensor_bytes(item) for item in value)
    return 0


def _write_failure(path: Path, needed: int, error: OSError, had_previous: bool) -> str:
    try:
        room = f"; the disk holding it has {shutil.disk_usage(path.parent).free / 1e6:.0f} MB free"
    except OSError:  # the folder itself could not be made (permissions, a read-only mount)
        room = ""
    if had_previous:
        kept, then = f"the previous {path.name} there is unchanged", "continue with ckpt_path=last"
    else:
        kept, then = "no partial file was left behind", "run again"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "Make that folder writable (or set paths.log_dir to one you can write)"
    else:  # ENOSPC, EDQUOT, EFBIG and the like
        fix = "Free some space (or set paths.log_dir to a disk with room)"
    return (
        f"could not write checkpoint {path} (about {needed / 1e6:.0f} MB): "
        f"{error.strerror or error}{room}. Nothing was lost: {kept}. {fix}, then {then}."
    )


# --- reading and checking -------------------------------------------------------------------

_WRITTEN_BY_TRAIN = "use a best.ckpt or last.ckpt written by scripts/train.py"


def load_torch_file(path: Path, name: str, what: str, fix: str, mmap: bool = False) -> Any:
    """torch.load(weights_only=True) onto the CPU; a file torch cannot read (truncated, another
    format) is one CheckpointError: "<name> is not a readable <what> (...); <fix>"."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError, OSError) as err:
        cause = (str(err).strip().splitlines() or [type(err).__name__])[0]  # torch's run long
        raise CheckpointError(
            f"{name} is not a readable {what} (truncated or another format: {cause}); {fix}"
        ) from None


def read_checkpoint(path: str | Path, mmap: bool = False) -> dict[str, Any]:
    """A checkpoint of this project, loaded with load_torch_file and checked to be one.

    ``mmap=True`` maps the tensors instead of reading them: for checks of the metadata only
    (a resume reads the file again in the trainer; an AlexNet with Adam state is ~0.7 GB).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist; pass ckpt_path=logs/train/runs/<stamp>/"
            "checkpoints/best.ckpt (or last.ckpt)"
        )
    checkpoint = load_torch_file(path, str(path), "checkpoint", fix=_WRITTEN_BY_TRAIN, mmap=mmap)
    if (
        not isinstance(checkpoint, dict)
        or "state_dict" not in checkpoint
        or ("net" not in checkpoint.get("hyper_parameters", {}))
    ):
        raise CheckpointError(
            f"{path} is not an AlexNet checkpoint of this project (no state_dict and model "
            f"hyperparameters); {_WRITTEN_BY_TRAIN}"
        )
    return checkpoint


def load_classifier(path: str | Path) -> tuple[AlexNetClassifier, dict[str, Any]]:
    """Rebuild the trained model from a checkpoint alone; also return the data settings."""
    checkpoint = read_checkpoint(path)
    try:
        model = AlexNetClassifier(**checkpoint["hyper_parameters"])
    except ValueError as err:  # e.g. its _target_ no longer imports here
        raise CheckpointError(
            f"{path} holds a network this installation cannot build ({err}); make its "
            "module importable (pip install -e . of the project that trained it)"
        ) from None
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(f"{path} does not match its own hyperparameters: {err}") from None
    model.eval()
    return model, dict(checkpoint.get("datamodule_hyper_parameters") or {})


def check_fits(model: AlexNetClassifier, num_classes: int, path: str | Path) -> None:
    """A checkpoint must have as many classes as the data it is evaluated on."""
    if model.num_classes != num_classes:
        raise CheckpointError(
            f"{path} was trained on {model.num_classes} classes but data.num_classes="
            f"{num_classes}; evaluate it on the dataset it was trained on"
        )


def check_resumable(checkpoint: dict[str, Any], net: dict[str, Any], path: str | Path) -> None:
    """Training resumes only into the same network: its ``_target_`` (variant), class count and
    the switches that change the layers."""
    saved, net = current_spec(checkpoint["hyper_parameters"]["net"]), current_spec(net)
    for key, config_key in (
        ("_target_", "model.net.variant or _target_"),
        ("num_classes", "data.num_classes"),
    ):
        if saved.get(key) != net.get(key):
            raise CheckpointError(
                f"{path} holds a {net_name(saved)} network with {saved.get('num_classes')} "
                f"classes but this run builds {net_name(net)} with {net.get('num_classes')}"
                f" ({config_key} differs); resume with the checkpoint's own settings "
                "(experiment and data) or start a fresh run (ckpt_path=null)"
            )
    for key in LAYER_SWITCHES:
        theirs, ours = built_value(saved, key), built_value(net, key)
        if theirs != ours:
            raise CheckpointError(
                f"{path} was trained with model.net.{key}={theirs} but this run sets "
                f"model.net.{key}={ours}; resume with the checkpoint's own model.net settings "
                "or start a fresh run (ckpt_path=null)"
            )


# --- which checkpoint a run continues --------------------------------------------------------


def _experiment_of(run: Path) -> str | None:
    """The experiment a run folder was started with, from Hydra's record of its choices."""
    hydra_yaml = run / ".hydra" / "hydra.yaml"
    if not hydra_yaml.is_file():
        return None
    try:
        choices = OmegaConf.load(hydra_yaml).hydra.runtime.choices
    except Exception:  # an unreadable record just makes the folder a non-candidate
        return None
    return str(choices.get("experiment"))


def find_last_checkpoint(task_dir: Path, experiment: str | None, exclude: Path) -> Path:
    """Newest (by modification time) ``checkpoints/last.ckpt`` under ``task_dir``'s runs and
    multirun jobs whose experiment is ``experiment``; ``exclude`` is this run's own folder."""
    candidates = [
        ckpt
        for pattern in ("runs/*/checkpoints/last.ckpt", "multiruns/*/*/checkpoints/last.ckpt")
        for ckpt in task_dir.glob(pattern)
        if ckpt.parents[1].resolve() != exclude.resolve()
        and _experiment_of(ckpt.parents[1]) == str(experiment)
    ]
    if not candidates:
        raise CheckpointError(
            f"ckpt_path=last: no checkpoints/last.ckpt of experiment={experiment} under "
            f"{task_dir}; start a fresh run (ckpt_path=null) or pass the checkpoint's path"
        )
    return max(candidates, key=lambda p: p.stat().st_mtime)


def requeued_checkpoint(output_dir: Path) -> Path | None:
    """last.ckpt of this job folder when SLURM restarted the job (preemption or time limit,
    requeued by submitit into the same folder), so it continues instead of starting over."""
    last = output_dir / "checkpoints" / "last.ckpt"
    restarted = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0
    return last if restarted and last.is_file() else None
