"""Hydra sweepers of alexnet-lightning. Hydra only instantiates plugins from the hydra_plugins
namespace, so the classes live here; the Optuna and report logic lives in alexnet_lightning."""
