"""The search space (sweeps/space.py) from Hydra's sweep syntax."""

from __future__ import annotations


def test_search_space_comes_from_hydra_sweep_syntax_and_the_command_line():
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    from alexnet_lightning.sweeps.space import split_overrides

    params = {
        "model.optimizer.lr": "tag(log, interval(1e-4, 1e-1))",
        "model.net.dropout": "interval(0.0, 0.7)",
        "trainer.max_epochs": "tag(int, interval(5, 20))",
        "model/optimizer": "choice(adamw, sgd)",
    }
    arguments = ["data.batch_size=32,64", "model.net.dropout=0.3", "seed=1"]
    space, fixed = split_overrides(params, arguments, OverridesParser.create())
    assert space["model.optimizer.lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert space["trainer.max_epochs"] == IntDistribution(5, 20)
    assert space["model/optimizer"] == CategoricalDistribution(["adamw", "sgd"])
    assert space["data.batch_size"] == CategoricalDistribution(
        [32, 64]
    )  # added on the command line
    assert "model.net.dropout" not in space  # fixed on the command line
    assert fixed == ["model.net.dropout=0.3", "seed=1"]
