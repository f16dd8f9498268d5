"""README, Extending, "a new network": one module, chosen by ``model.net._target_`` alone. This
test module is that module: ``TinyNet`` below trains with the template's data, loop and
checkpoints, and comes back from its checkpoint."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from alexnet_lightning.checkpoints import load_classifier, read_checkpoint
from alexnet_lightning.entry.train import train
from alexnet_lightning.models.net import build_net
from tests.conftest import TINY_DATA, TWO_STEPS, compose_config


class TinyNet(nn.Module):
    """One convolution and a linear layer: the smallest network the template trains."""

    # optional: the layer scripts/neighbours.py compares (a create_feature_extractor node)
    last_hidden_layer = "flatten"

    def __init__(self, num_classes: int, width: int = 8) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, kernel_size=5, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1)
        )
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def test_a_network_from_a_test_module_trains_two_steps_by_its_target_alone(tmp_path):
    cfg = compose_config(
        "train",
        [
            *TINY_DATA,
            f"model.net._target_={__name__}.TinyNet",
            *TWO_STEPS,
        ],
        tmp_path,
    )
    metrics = train(cfg)
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert read_checkpoint(last)["global_step"] == 2
    model, _ = load_classifier(last)
    assert isinstance(model.net, TinyNet) and model.num_classes == 4
    assert model.hparams.net["_target_"] == f"{__name__}.TinyNet"
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 4)


def test_an_experiment_file_sets_the_networks_own_defaults(tmp_path):
    experiment = tmp_path / "conf" / "experiment" / "tiny.yaml"
    experiment.parent.mkdir(parents=True)
    experiment.write_text(
        f"# @package _global_\nmodel:\n  net:\n    _target_: {__name__}.TinyNet\n    width: 16\n"
    )
    search = f"hydra.searchpath=[file://{tmp_path / 'conf'}]"
    cfg = compose_config("train", [search, "experiment=tiny", "data.num_classes=3"], tmp_path)
    net = build_net(OmegaConf.to_container(cfg.model.net, resolve=True))
    assert isinstance(net, TinyNet) and net.classifier.in_features == 16


def test_a_checkpoint_whose_network_no_longer_imports_is_one_clear_error(tmp_path):
    from alexnet_lightning.errors import CheckpointError
    from tests.checkpoint_files import write_checkpoint

    path = write_checkpoint(tmp_path / "gone.ckpt")
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["hyper_parameters"]["net"]["_target_"] = "gone_pkg.Net"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match="cannot build .*_target_='gone_pkg.Net'"):
        load_classifier(path)
