"""Private APIs of the libraries we build on, gathered here: each one has no public route.

For each: what it is, the version it was written against, and the test that fails when that
version changes it. Upgrading a library: run those tests first.
"""

# --- Hydra (written against hydra-core 1.3.8) ---------------------------------------------

# BasicSweeper: Hydra's grid sweeper (cartesian product of `key=a,b` lists, `params` from the
# config, batches of `max_batch_size`). Hydra has no public grid sweeper to build on, and our
# GridSweeper (alexnet_lightning.sweeps.grid) only changes what happens around its batches.
# Uses: split_arguments, _parse_config, is_done, get_job_batch, max_batch_size, overrides.
# Caught by: tests/test_sweeps.py::test_grid_sweeper_expands_the_grid_with_hydra_basic_sweeper
# (fast) and test_grid_2x2_writes_four_run_folders_and_the_report.
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

__all__ = ["BasicSweeper"]
