"""Hydra multirun sweeps: the grid and Optuna sweepers, their job records and the report.

- ``grid``, ``optuna_sweeper``: the sweepers (Hydra finds them through hydra_plugins).
- ``space``: the Optuna search space from Hydra sweep syntax; ``study``: the Optuna study
  (storage, recovery of a killed sweep's trials, the pruning callback of a trial's job).
- ``jobs``: a sweep's job folders and their record job.json; ``callback``: the Hydra callback
  with which each job writes that record.
- ``sweep_folder``: the sweep folder and the report at its end; ``summary`` (summary.csv),
  ``report`` (summary.md and plots), ``plots``: the report.
"""
