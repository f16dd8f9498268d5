"""``hydra/sweeper=grid``: the grid sweeper; its code is alexnet_lightning.sweeps.grid."""

from alexnet_lightning.compat import basic_sweeper
from alexnet_lightning.sweeps.grid import RunEveryJob


class GridSweeper(RunEveryJob, basic_sweeper()):
    """Hydra's grid sweep that runs every job, writes the report, then names the failed jobs."""
