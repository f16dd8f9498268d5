"""Every command in the README's ```bash blocks is run here as far as it can be without data:
Hydra commands are composed with their overrides (a sweep's first value) and checked as a run
checks them; argparse scripts parse their flags; make targets exist; the SLURM, sbatch, srun
and torchrun lines are run by tests/test_slurm.py, which reads them from the README too."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Glob
from omegaconf import open_dict

from alexnet_lightning.config_checks import RULES, check_config
from alexnet_lightning.config_types import check_overrides_against_defaults
from tests.conftest import CONF, ROOT

README = ROOT / "README.md"
HYDRA_SCRIPTS = {"train": "train", "eval": "eval", "predict": "predict", "neighbours": "neighbours"}


def readme_lines() -> list[str]:
    """Each command line of the README's bash blocks, continuations joined."""
    lines = []
    for block in README.read_text().split("```bash\n")[1:]:
        block = block.split("```")[0].replace("\\\n", " ")
        lines += [line.strip() for line in block.splitlines() if shlex.split(line, comments=True)]
    return lines


def script_call(argv: list[str]) -> tuple[str, list[str]] | None:
    """(script name, its arguments) of a line that runs scripts/<name>.py or .sh, however it
    is started (python, srun, torchrun, sbatch)."""
    for i, arg in enumerate(argv):
        match = re.fullmatch(r"scripts/(\w+)\.(py|sh)", arg)
        if match:
            return match[1], argv[i + 1 :]
    return None


def first_of_each_sweep(overrides: list[str]) -> list[str]:
    """One job of a multirun: every sweep override (a,b / choice(...)) at its first value."""
    parsed = OverridesParser.create().parse_overrides([o for o in overrides if "=" in o])
    single = []
    for override, text in zip(parsed, [o for o in overrides if "=" in o], strict=True):
        if isinstance(override.value(), Glob):  # glob(*) of a config group: its options
            options = sorted(p.stem for p in (CONF / override.key_or_group).glob("*.yaml"))
            text = f"{override.get_key_element()}={override.value().filter(options)[0]}"
        elif override.is_sweep_override():
            text = f"{override.get_key_element()}={next(override.sweep_string_iterator())}"
        single.append(text)
    return single


# <stamp>, <job id>: what the user fills in
LINES = [re.sub(r"<(\w+)(?: (\w+))?>", r"\1\2", line) for line in readme_lines()]
COMMANDS = [shlex.split(line, comments=True) for line in LINES]
HYDRA_RUNS = [
    (name, args)
    for name, args in filter(None, map(script_call, COMMANDS))
    if name in HYDRA_SCRIPTS or name == "slurm_train"
]


def test_the_readme_has_the_users_commands():
    scripts = {call[0] for call in filter(None, map(script_call, COMMANDS))}
    assert {"train", "eval", "predict", "make_imagenet_subset", "pack_dataset"} <= scripts
    assert len(HYDRA_RUNS) >= 20


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, args", HYDRA_RUNS, ids=[" ".join(args)[:60] for _, args in HYDRA_RUNS]
)
def test_each_hydra_command_composes_and_passes_the_checks(name, args, tmp_path):
    overrides = first_of_each_sweep([a for a in args if a not in ("-m", "--multirun")])
    config_name = HYDRA_SCRIPTS.get(name, "train")
    overrides = [f"paths.log_dir={tmp_path / 'logs'}", *overrides]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
        groups = set(cfg.hydra.runtime.choices)
        with open_dict(cfg):
            del cfg["hydra"]
            cfg.paths.output_dir = str(tmp_path / "run")
        check_config(cfg)
        check_overrides_against_defaults(cfg, config_name, overrides, groups, ruled=RULES)


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"readme_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_argparse_command_parses_its_flags():
    calls = [
        call
        for call in filter(None, map(script_call, COMMANDS))
        if call[0] not in HYDRA_SCRIPTS and call[0] not in {"slurm_train", "slurm_local"}
    ]
    assert calls
    for name, args in calls:
        _load_script(name).make_parser().parse_args(args)  # exits with status 2 on a bad flag


def test_each_make_target_exists():
    targets = {argv[1] for argv in COMMANDS if argv[0] == "make"}
    assert {"train", "test", "tensorboard", "lint"} <= targets
    for target in targets:
        result = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, (target, result.stderr)


def test_every_other_command_is_one_the_slurm_tests_run():
    slurm_tests = (Path(__file__).parent / "test_slurm.py").read_text()
    run_there = [m[1] for m in re.findall(r"readme_command\(\s*([\"'])(.+?)\1\s*\)", slurm_tests)]
    run_there.append("scripts/slurm_local.sh down")  # the cluster fixture's teardown
    others = [
        line
        for line, argv in zip(LINES, COMMANDS, strict=True)
        if argv[0] not in ("make", "python")
    ]
    assert len(others) >= 6
    for line in others:
        assert any(line.startswith(p) for p in run_there), f"no test runs: {line}"
