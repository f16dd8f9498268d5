"""Running the scripts as a user does, with every output under a test's folder (and, under
``-X importtime``, the modules they imported)."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT


def run_script(
    script: str, *overrides: str, tmp: Path, **run_options: Any
) -> subprocess.CompletedProcess:
    """``scripts/<script>`` with its outputs under ``tmp``; ``run_options`` go to subprocess.run."""
    command = [
        sys.executable,
        str(ROOT / "scripts" / script),
        f"paths.data_dir={tmp / 'data'}",
        f"paths.log_dir={tmp / 'logs'}",
        *overrides,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp, **run_options
    )


def only_run_folder(tmp: Path, task: str) -> Path:
    runs = sorted((tmp / "logs" / task / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def finished_run(script: str, *overrides: str, tmp: Path) -> Path:
    """Run ``scripts/<script>``, which must succeed; its one run folder."""
    result = run_script(script, *overrides, tmp=tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    return only_run_folder(tmp, Path(script).stem)


HEAVY_MODULES = {"torch", "torchvision", "lightning", "optuna"}


def child_cpu_seconds() -> float:
    """CPU seconds of this process's finished children: a script's own cost, whatever else
    shares the machine (wall time on a loaded CI box says more about the load)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_and_list_imports(
    script: str, *args: str, tmp: Path
) -> tuple[subprocess.CompletedProcess, set]:
    """Run a script under ``-X importtime``: the top-level modules it imported, and its output
    with the import lines removed."""
    command = [sys.executable, "-X", "importtime", str(ROOT / "scripts" / script)]
    command += [f"paths.data_dir={tmp / 'data'}", f"paths.log_dir={tmp / 'logs'}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp)
    lines = result.stderr.splitlines()
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in lines
        if line.startswith("import time:")
    }
    result.stderr = "\n".join(line for line in lines if not line.startswith("import time:"))
    return result, imported
