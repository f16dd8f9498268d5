"""Hydra sweepers of alexnet-lightning, as Hydra finds them.

Hydra instantiates plugins only from classes defined in the hydra_plugins namespace, and imports
every module here at startup; so these are thin subclasses, and the sweepers' code lives in
alexnet_lightning.sweeps (which imports optuna, torch and matplotlib only once a sweep starts).
"""

# conf/hydra/default.yaml's run folder and conf/logger/tensorboard.yaml's run name use these
# resolvers: registered wherever Hydra starts (a compose() in a notebook or a test as well as
# the scripts)
from alexnet_lightning.entry import launched_ranks  # noqa: E402, F401
from alexnet_lightning.utils import run_names  # noqa: E402, F401
