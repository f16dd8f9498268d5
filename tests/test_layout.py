"""The package's layout holds: the runtime (what a training run imports) never imports the
dataset-building tools or the benchmarks, and private library APIs stay in compat.py."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "alexnet_lightning"
OFFLINE = ("alexnet_lightning.dataset_tools", "alexnet_lightning.benchmarks")
# data=shapes generates the built-in dataset on first use (DESIGN.md): the one door, taken
# inside prepare_data only, so a run on any other dataset never loads the generator.
DOORS = {("alexnet_lightning.data.shapes_datamodule", "alexnet_lightning.dataset_tools.shapes")}


def module_name(path) -> str:
    parts = path.relative_to(ROOT / "src").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_modules() -> list:
    offline = [PACKAGE / "dataset_tools", PACKAGE / "benchmarks"]
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(path.is_relative_to(folder) for folder in offline)
    ]


def imports_of(path) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import statement in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, id(node) in top)]
            found += [(f"{node.module}.{alias.name}", id(node) in top) for alias in node.names]
    return found


def test_no_runtime_module_imports_a_dataset_tool_or_a_benchmark():
    modules = runtime_modules()
    assert len(modules) > 60 and all("dataset_tools" not in str(p) for p in modules)
    offending = []
    for path in modules:
        for imported, at_top in imports_of(path):
            if not imported.startswith(OFFLINE):
                continue
            through_door = {(module_name(path), imported.rsplit(".", 1)[0])} | {
                (module_name(path), imported)
            }
            if at_top or not through_door & DOORS:
                offending.append(f"{module_name(path)} imports {imported}")
    assert not offending, offending


@pytest.mark.slow
def test_importing_every_runtime_module_loads_no_offline_module():
    names = [module_name(path) for path in runtime_modules()]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({OFFLINE!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", result.stdout


def test_private_library_apis_are_used_only_in_compat():
    """``obj._private`` of Lightning's loops or Hydra's classes, outside compat.py."""
    private = ("fit_loop.epoch_loop", "epoch_progress", "batch_progress", "_parse_config")
    offending = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "compat.py"
        for name in private
        if name in path.read_text()
    ]
    assert not offending, offending


def test_the_networks_know_no_config_checkpoints_or_data():
    """models/ is imported by those modules, never the other way: no import circle, and a
    network is a plain nn.Module built from plain arguments."""
    barred = tuple(f"alexnet_lightning.{name}" for name in ("config_checks", "checkpoints", "data"))
    offending = [
        f"{module_name(path)} imports {imported}"
        for path in sorted((PACKAGE / "models").rglob("*.py"))
        for imported, _ in imports_of(path)
        if imported.startswith(barred)
    ]
    assert not offending, offending


def test_no_module_branches_on_the_variant_name():
    """Each network is its own module, chosen by model.net._target_; code that needs one of its
    facts asks the network (e.g. last_hidden_layer), not the variant's name."""
    offending = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "variant ==" in path.read_text() or "variant in (" in path.read_text()
    ]
    assert not offending, offending
