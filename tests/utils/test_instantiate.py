"""Lightning's refusal of a Trainer flag, told as one line that names the key."""

import lightning as L
import pytest
from omegaconf import OmegaConf

from alexnet_lightning.errors import ConfigError
from alexnet_lightning.utils.instantiate import instantiate_trainer, lightning_flags

QUIET = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False}


def trainer_config(**flags):
    return OmegaConf.create({"_target_": "lightning.pytorch.Trainer", **QUIET, **flags})


@pytest.mark.parametrize(
    ("flags", "named", "lightning_says"),
    [
        # max_epochs 8 appears too: the flag Lightning's message names wins
        ({"max_epochs": 8, "precision": 8}, "trainer.precision=8", "Precision 8 is invalid."),
        ({"precision": "8-mixed"}, "trainer.precision='8-mixed'", "Allowed precision values"),
        ({"accelerator": "tpuv9"}, "trainer.accelerator='tpuv9'", "invalid accelerator name"),
        ({"num_sanity_val_steps": 0, "devices": 0}, "trainer.devices=0", "not a valid input"),
        ({"strategy": "fsdp9"}, "trainer.strategy='fsdp9'", "invalid strategy name"),
    ],
)
def test_a_flag_lightning_refuses_is_named_with_lightnings_reason(flags, named, lightning_says):
    with pytest.raises(ConfigError) as raised:
        instantiate_trainer(trainer_config(**flags))
    message = str(raised.value)
    assert message.startswith(f"{named} is invalid; Lightning says: "), message
    assert lightning_says in message and "\n" not in message


def test_good_flags_build_the_trainer():
    trainer = instantiate_trainer(trainer_config(precision="bf16-mixed", max_epochs=2))
    assert isinstance(trainer, L.Trainer) and trainer.max_epochs == 2


def test_other_failures_are_not_mistaken_for_a_flag():
    with pytest.raises(RuntimeError, match="disk on fire"), lightning_flags({"precision": "32"}):
        raise RuntimeError("disk on fire")
