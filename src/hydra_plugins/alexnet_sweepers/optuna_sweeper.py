"""``hydra/sweeper=optuna``: the Optuna sweeper; code in alexnet_lightning.sweeps.optuna_sweeper."""

from alexnet_lightning.sweeps import optuna_sweeper


class OptunaSweeper(optuna_sweeper.OptunaSweeper):
    """Optuna search (ask/tell, resumable study) over Hydra jobs, with the sweep report."""
