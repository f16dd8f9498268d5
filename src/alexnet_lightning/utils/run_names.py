"""What a run is called in TensorBoard: its time stamp, or a sweep job's swept overrides.

TensorBoard names a run by the folder of its event files, relative to ``--logdir``, and its
Runs list, chart legends and HParams rows are read by that name. The logger's ``version``
(conf/logger/tensorboard.yaml, through the resolver ``tensorboard_run``) makes that folder
``<run>/tensorboard/<name>``: ``2026-12-02_06-01-38`` for a run, ``lr=0.01,batch_size=64`` for
a job of a sweep (the same folder again when SLURM requeues the job, so it continues there).

Hydra's ``override_dirname`` would list every override the jobs share too (paths, debug
limits); a job's name holds the overrides its sweep varies, each key by its last part.
Registered when this module is imported, as ``rank_zero_dir`` is (entry/launched_ranks.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import OmegaConf

# conf/hydra/default.yaml's run folder name
STAMP = re.compile(r"(?P<date>\d{4}-\d\d-\d\d)_(?P<time>\d\d-\d\d-\d\d)")
# Characters that would make folders of a name or stop a shell from taking it as one word.
UNSAFE = str.maketrans({"/": "-", "\\": "-", " ": "", "'": "", '"': "", "[": "", "]": ""})


def in_sweep() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def swept_keys() -> list[str]:
    """The keys (``model.optimizer.lr``, a group as ``model/optimizer``) this job's sweep
    varies, in the order the sweep gives them: its sweeper's ``params`` with the command line's
    overrides as saved in the sweep's multirun.yaml on top (``key=a,b``/``range(...)`` add a
    key, a single value fixes one, as the sweepers read them). Empty outside a sweep."""
    if not in_sweep():
        return []
    hydra = HydraConfig.get()
    keys = {str(key).lstrip("+~"): None for key in hydra.sweeper.get("params") or {}}
    saved = Path(hydra.sweep.dir) / "multirun.yaml"
    if saved.is_file():
        task = OmegaConf.load(saved).hydra.overrides.task
        for override in OverridesParser.create().parse_overrides(list(task)):
            if override.is_sweep_override():
                keys[override.key_or_group] = None
            else:
                keys.pop(override.key_or_group, None)
    return list(keys)


def job_overrides() -> dict[str, str]:
    """This sweep job's value of each swept key, as its overrides give it."""
    if not in_sweep():
        return {}
    swept = set(swept_keys())
    parsed = OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))
    values = {o.key_or_group: o.get_value_element_as_str() for o in parsed if not o.is_delete()}
    return {key: values[key] for key in swept_keys() if key in values and key in swept}


def tensorboard_run(output_dir: str) -> str:
    """The run's name: a sweep job's swept overrides (``lr=0.01,batch_size=64``; the job's
    number when it has none), else the run folder's name (its time stamp)."""
    if not in_sweep():
        return Path(output_dir).name
    overrides = job_overrides()
    if not overrides:
        return f"job{HydraConfig.get().job.num}"
    parts = [f"{_short(key)}={value}" for key, value in overrides.items()]
    return ",".join(parts).translate(UNSAFE)


def trial_id(output_dir: str) -> str:
    """The HParams row's name, what differs first (its table cuts the name to ~15 characters):
    a run's stamp time first (``09-14-59 2026-12-03``); a sweep job's name, then its sweep and
    number (rows with one name are merged into one, and two sweeps may try the same lr)."""
    name = tensorboard_run(output_dir)
    if not in_sweep():
        stamp = STAMP.fullmatch(name)
        return f"{stamp['time']} {stamp['date']}" if stamp else name
    hydra = HydraConfig.get()
    return f"{name} [{Path(hydra.sweep.dir).name}/{hydra.job.num}]"


def _short(key: str) -> str:
    """``model.optimizer.lr`` -> ``lr``, ``model/optimizer`` -> ``optimizer``."""
    return key.replace("/", ".").rsplit(".", 1)[-1]


OmegaConf.register_new_resolver("tensorboard_run", tensorboard_run, replace=True)
