"""The paper's ideas as switches of AlexNet, and the four-layer CIFAR-10 network."""

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from alexnet_lightning.entry.network import check_network
from alexnet_lightning.errors import ConfigError
from alexnet_lightning.models.alexnet import AlexNet
from alexnet_lightning.models.variants import target_of
from tests.nets import alexnet


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def layer_kinds(seq: nn.Sequential) -> list[str]:
    return [type(m).__name__ for m in seq]


def conv_weights(net: AlexNet) -> list[tuple[int, ...]]:
    return [tuple(m.weight.shape) for m in net.features if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize(
    ("variant", "classes", "params", "convs_at"),
    [
        ("half", 10, 14_601_930, [0, 3, 6, 8, 10]),
        ("half", 1000, 16_630_440, [0, 3, 6, 8, 10]),
        ("paper", 1000, 62_378_344, [0, 4, 8, 10, 12]),
        ("torchvision", 1000, 61_100_840, [0, 3, 6, 8, 10]),
        ("cifar", 10, 85_098, [0, 3, 6]),
    ],
)
def test_switches_at_their_defaults_keep_each_layout(variant, classes, params, convs_at):
    explicit = {"activation": "relu", "pool": "overlapping", "groups": 1, "lrn": None}
    net = alexnet(variant, num_classes=classes, init_weights=False)
    same = alexnet(variant, num_classes=classes, init_weights=False, **explicit)
    assert n_params(net) == n_params(same) == params
    assert list(net.state_dict()) == list(same.state_dict())
    weights = [k for k in net.state_dict() if k.startswith("features.") and k.endswith("weight")]
    assert weights == [f"features.{i}.weight" for i in convs_at]


def test_groups_2_gives_the_papers_two_tower_connectivity():
    one, two = alexnet("paper", num_classes=1000), alexnet("paper", num_classes=1000, groups=2)
    # Figure 2: conv2, conv4 and conv5 take only their own GPU's 48 / 192 / 192 maps; conv1
    # (both towers see the image) and conv3 (they communicate) are unchanged.
    assert conv_weights(two) == [
        (96, 3, 11, 11),
        (256, 48, 5, 5),
        (384, 256, 3, 3),
        (384, 192, 3, 3),
        (256, 192, 3, 3),
    ]
    assert [c.groups for c in two.features if isinstance(c, nn.Conv2d)] == [1, 2, 1, 2, 2]
    halved = (256 * 96 * 25 + 384 * 384 * 9 + 256 * 384 * 9) // 2
    assert n_params(one) - n_params(two) == halved
    assert list(one.state_dict()) == list(two.state_dict())
    # The CIFAR network's conv2 is grouped, conv3 sees both towers.
    assert conv_weights(alexnet("cifar", num_classes=10, groups=2)) == [
        (32, 3, 5, 5),
        (32, 16, 5, 5),
        (64, 32, 5, 5),
    ]


def test_groups_that_do_not_divide_the_widths_name_the_key():
    with pytest.raises(ValueError, match=r"^groups=3 does not divide .* \[48, 128"):
        alexnet("half", groups=3)
    net = OmegaConf.create({"variant": "cifar", "_target_": target_of("cifar"), "groups": 3})
    with pytest.raises(ConfigError, match=r"^model.net.groups=3 does not divide .* \[32, 32, 64"):
        check_network(net)


@pytest.mark.parametrize("variant", ["half", "paper", "torchvision", "cifar"])
@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_activation_switch_replaces_only_the_activations(variant, name):
    relu = alexnet(variant, num_classes=10, init_weights=False)
    other = alexnet(variant, num_classes=10, init_weights=False, activation=name)
    kind = {"tanh": "Tanh", "sigmoid": "Sigmoid"}[name]
    for seq in ("features", "classifier"):
        expected = [kind if k == "ReLU" else k for k in layer_kinds(getattr(relu, seq))]
        assert layer_kinds(getattr(other, seq)) == expected
    assert "ReLU" not in {type(m).__name__ for m in other.modules()}
    hidden = 2 if variant != "cifar" else 0  # the CIFAR net's one linear layer is its output
    assert layer_kinds(other.classifier).count(kind) == hidden
    assert {k: v.shape for k, v in relu.state_dict().items()} == {
        k: v.shape for k, v in other.state_dict().items()
    }


@pytest.mark.parametrize(("variant", "size"), [("half", 224), ("paper", 224), ("cifar", 24)])
def test_pool_switch_changes_only_the_pooling_windows(variant, size):
    overlapping = alexnet(variant, num_classes=10, init_weights=False)
    plain = alexnet(variant, num_classes=10, init_weights=False, pool="non_overlapping")
    assert layer_kinds(overlapping.features) == layer_kinds(plain.features)
    for a, b in zip(overlapping.features, plain.features, strict=True):
        if isinstance(a, nn.MaxPool2d | nn.AvgPool2d):
            assert (a.kernel_size, a.stride, b.kernel_size, b.stride) == (3, 2, 2, 2)
        else:
            assert repr(a) == repr(b)
    x = torch.randn(1, 3, size, size)
    # 3x3/2 and 2x2/2 windows give the same map sizes, so the classifier fits both.
    assert overlapping.features(x).shape == plain.features(x).shape


def test_lrn_switch_adds_or_removes_the_papers_normalisation():
    def lrns(net: AlexNet) -> list[int]:
        return [i for i, m in enumerate(net.features) if isinstance(m, nn.LocalResponseNorm)]

    assert lrns(alexnet("paper")) == lrns(alexnet("paper", lrn=True)) == [2, 6]
    assert lrns(alexnet("paper", lrn=False)) == []
    assert lrns(alexnet("half", lrn=True)) == [2, 6]
    assert n_params(alexnet("half", lrn=True)) == n_params(alexnet("half"))
    # The CIFAR network normalises after its first two pooling layers (layers-18pct's rnorm).
    assert layer_kinds(alexnet("cifar", num_classes=10, lrn=True).features)[:9] == [
        "Conv2d",
        "MaxPool2d",
        "ReLU",
        "LocalResponseNorm",
        "Conv2d",
        "ReLU",
        "AvgPool2d",
        "LocalResponseNorm",
        "Conv2d",
    ]


def test_dropout_default_is_the_variants_and_zero_turns_it_off():
    def rates(net: AlexNet) -> list[float]:
        return [m.p for m in net.classifier if isinstance(m, nn.Dropout)]

    assert rates(alexnet("half")) == [0.5, 0.5]
    assert rates(alexnet("cifar", num_classes=10)) == [0.0]
    assert rates(alexnet("half", dropout=0.0)) == [0.0, 0.0]
    assert rates(alexnet("cifar", num_classes=10, dropout=0.3)) == [0.3]


def test_cifar_variant_is_layers_18pct_at_24_px():
    net = alexnet("cifar", num_classes=10).eval()
    assert layer_kinds(net.features) == [
        "Conv2d",
        "MaxPool2d",
        "ReLU",
        "Conv2d",
        "ReLU",
        "AvgPool2d",
        "Conv2d",
        "ReLU",
        "AvgPool2d",
    ]
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (32, (5, 5), (2, 2)),
        (32, (5, 5), (2, 2)),
        (64, (5, 5), (2, 2)),
    ]
    sides, x = [], torch.randn(2, 3, 24, 24)
    for m in net.features:
        x = m(x)
        if isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
            sides.append(x.shape[-1])
    assert sides == [12, 6, 3]  # cuda-convnet keeps the partial border windows
    assert [(m.in_features, m.out_features) for m in net.classifier[1:]] == [(576, 10)]
    # 24 px: the adaptive pool is the identity; other sizes reach the same classifier.
    x = torch.randn(2, 3, 24, 24)
    torch.testing.assert_close(net.avgpool(net.features(x)), net.features(x))
    for size in (8, 32, 64):
        assert net(torch.randn(2, 3, size, size)).shape == (2, 10)


def test_cifar_init_is_layers_18pct_or_pytorch_defaults():
    torch.manual_seed(0)
    ours = alexnet("cifar", num_classes=10)
    convs = [m for m in ours.features if isinstance(m, nn.Conv2d)]
    stds = [m.weight.std().item() for m in [*convs, ours.classifier[1]]]
    assert stds == pytest.approx([1e-4, 0.01, 0.01, 0.01], rel=0.1)
    assert all(m.bias.abs().sum() == 0 for m in [*convs, ours.classifier[1]])
    plain = alexnet("cifar", num_classes=10, init_weights=False)
    # PyTorch's default: uniform with bound 1/sqrt(fan_in), i.e. std 1/sqrt(3 * 75) for conv1.
    assert plain.features[0].weight.std().item() == pytest.approx((1 / 225) ** 0.5, rel=0.1)
    assert plain.features[0].bias.abs().sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"activation": "gelu"}, "activation='gelu'"),
        ({"pool": "avg"}, "pool='avg'"),
        ({"groups": 0}, "groups=0"),
        ({"lrn": "yes"}, "lrn='yes'"),
        ({"dropout": 1.5}, "dropout=1.5"),
        ({"num_classes": 0}, "num_classes=0"),
    ],
)
@pytest.mark.parametrize("variant", ["half", "paper", "torchvision", "cifar"])
def test_bad_switch_values_name_the_argument_and_the_entry_the_key(variant, kwargs, key):
    with pytest.raises(ValueError, match=f"^{key} is invalid"):
        alexnet(variant, **kwargs)
    net = OmegaConf.create({"variant": variant, "_target_": target_of(variant), **kwargs})
    with pytest.raises(ConfigError, match=f"^model.net.{key} is invalid"):
        check_network(net)


def test_resuming_with_another_switch_is_refused_and_left_out_keys_are_the_defaults(tmp_path):
    from alexnet_lightning.checkpoints import check_resumable
    from alexnet_lightning.errors import CheckpointError

    # A net config that leaves the switches out: each is the variant's default.
    defaults = {"hyper_parameters": {"net": {"variant": "paper", "num_classes": 4, "dropout": 0.5}}}
    check_resumable(defaults, {"variant": "paper", "num_classes": 4, "lrn": None}, "defaults.ckpt")
    check_resumable(defaults, {"variant": "paper", "num_classes": 4, "lrn": True}, "defaults.ckpt")
    with pytest.raises(CheckpointError, match=r"model.net.lrn=True but this run sets .*lrn=False"):
        check_resumable(
            defaults, {"variant": "paper", "num_classes": 4, "lrn": False}, "defaults.ckpt"
        )
    tanh = {"variant": "paper", "num_classes": 4, "activation": "tanh"}
    with pytest.raises(CheckpointError, match="model.net.activation=relu but this run sets"):
        check_resumable(defaults, tanh, "defaults.ckpt")


def test_a_checkpoint_naming_the_variant_seed_resumes_into_the_half_net():
    from alexnet_lightning.checkpoints import check_resumable

    old = {"hyper_parameters": {"net": {"variant": "seed", "num_classes": 4, "lrn": None}}}
    now = {"_target_": target_of("half"), "variant": "half", "num_classes": 4, "lrn": None}
    check_resumable(old, now, "old.ckpt")
