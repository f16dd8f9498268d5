"""``hydra/sweeper=grid``: the grid sweeper; its code is alexnet_lightning.sweeps.grid."""

from alexnet_lightning.sweeps import grid


class GridSweeper(grid.GridSweeper):
    """Hydra's grid sweep that runs every job, writes the report, then names the failed jobs."""
