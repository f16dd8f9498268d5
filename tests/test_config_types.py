"""A value typed on the command line takes its key's type from the YAML default."""

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from alexnet_lightning.config_checks import RULES
from alexnet_lightning.config_types import (
    check_overrides_against_defaults,
    check_typed_overrides,
    command_line_keys,
)
from alexnet_lightning.errors import ConfigError
from tests.conftest import CONF

# a config group's defaults as a new key's author would write them, with no rule anywhere
DEFAULTS = OmegaConf.create(
    {
        "mine": {"on": True, "every": 5, "rate": 0.5, "name": "x", "sizes": [1, 2], "off": None},
        "paths": {"out": "/tmp"},
        "alias": "${mine.every}",
    }
)


def typed(**values):
    cfg = OmegaConf.merge(DEFAULTS, OmegaConf.create(values))
    keys = [f"mine.{k}" for k in values.get("mine", {})] + [k for k in values if k != "mine"]
    check_typed_overrides(cfg, DEFAULTS, keys, ruled=())


@pytest.mark.parametrize(
    ("mine", "message"),
    [
        ({"on": "yes"}, "mine.on='yes' is invalid: it must be true or false (its default is True)"),
        ({"every": "often"}, "mine.every='often' is invalid: it must be an integer (its default"),
        ({"every": 2.5}, "mine.every=2.5 is invalid: it must be an integer (its default is 5)"),
        ({"rate": "fast"}, "mine.rate='fast' is invalid: it must be a number (its default is 0.5)"),
        ({"rate": True}, "mine.rate=True is invalid: it must be a number"),
        ({"every": False}, "mine.every=False is invalid: it must be an integer"),
    ],
)
def test_a_value_of_another_type_than_its_default_is_named(mine, message):
    with pytest.raises(ConfigError) as raised:
        typed(mine=mine)
    assert str(raised.value).startswith(message), raised.value


@pytest.mark.parametrize(
    "mine",
    [
        {"on": False},
        {"every": 7},
        {"rate": 1},  # an integer is a number
        {"name": 2024},  # Hydra reads name=2024 as an int: strings take what is typed
        {"sizes": [3]},
        {"off": "anything"},  # no default type to hold it to
        {"every": None},  # null switches a key off
    ],
)
def test_values_of_the_defaults_type_or_untyped_keys_pass(mine):
    typed(mine=mine)


def test_a_ruled_key_an_interpolated_default_and_a_new_key_are_left_alone():
    cfg = OmegaConf.merge(DEFAULTS, {"alias": "x", "added": "y", "mine": {"on": "yes"}})
    check_typed_overrides(cfg, DEFAULTS, ["alias", "added", "mine.on"], ruled={"mine.on"})


def test_a_value_that_does_not_resolve_is_left_to_whoever_reads_it():
    cfg = OmegaConf.merge(DEFAULTS, {"mine": {"every": "${no.such.key}"}})
    check_typed_overrides(cfg, DEFAULTS, ["mine.every"], ruled=())


def test_the_command_line_keys_are_its_values_not_its_group_choices():
    overrides = [
        "experiment=cifar10",
        "model/optimizer=adamw",
        "+arm=one_tower",
        "model.optimizer.lr=0.01",
        "+extra.key=1",
        "~callbacks.kernels",
        "hydra.job.chdir=false",
    ]
    groups = {"experiment", "model/optimizer", "arm"}
    assert list(command_line_keys(overrides, groups)) == ["model.optimizer.lr", "extra.key"]


def test_the_defaults_are_the_config_of_the_runs_own_group_choices():
    # callbacks.kernels.every_n_epochs has no rule: 5 in conf/callbacks/kernels.yaml makes it an int
    assert "callbacks.kernels.every_n_epochs" not in RULES
    overrides = ["experiment=cifar10", "callbacks.kernels.every_n_epochs=often"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
        groups = set(cfg.hydra.runtime.choices)
        with pytest.raises(ConfigError, match=r"it must be an integer \(its default is 5\)"):
            check_overrides_against_defaults(cfg, "train", overrides, groups, ruled=RULES)
        ok = ["experiment=cifar10", "callbacks.kernels.every_n_epochs=2"]
        cfg = compose("train", overrides=ok)
        check_overrides_against_defaults(cfg, "train", ok, groups, ruled=RULES)


def test_a_group_found_on_the_users_searchpath_is_checked_too(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x.yaml").write_text("every: 5\n")
    overrides = [f"hydra.searchpath=[file://{tmp_path}]", "+mine=x", "mine.every=often"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
        groups = set(cfg.hydra.runtime.choices)
        with pytest.raises(ConfigError, match=r"mine.every='often' is invalid: it must be an int"):
            check_overrides_against_defaults(cfg, "train", overrides, groups, ruled=RULES)
