"""Every option of every config group composes and instantiates; bad values name their key."""

import pytest
from hydra.utils import instantiate
from omegaconf import open_dict

from alexnet_lightning.config_checks import check_config
from alexnet_lightning.errors import ConfigError
from alexnet_lightning.utils.instantiate import instantiate_callbacks, instantiate_loggers

from .conftest import CONF, TINY_SHAPES, compose_config


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def build_all(cfg, folder=None):
    """Instantiate every part of a composed train config, the way entry/train.py does."""
    check_config(cfg)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    info = datamodule.inspect()
    model = instantiate(cfg.model, class_names=info.names)
    optimizer = instantiate(model.hparams.optimizer)(params=model.parameters())
    if model.hparams.scheduler:
        factory = instantiate(model.hparams.scheduler)
        try:
            factory(optimizer, total_steps=100)
        except TypeError:
            factory(optimizer)
    with open_dict(cfg):
        if cfg.trainer.accelerator == "gpu":  # no GPU here: the rest of the config must still hold
            cfg.trainer.accelerator, cfg.trainer.devices = "cpu", 1
    trainer = instantiate(
        cfg.trainer,
        callbacks=instantiate_callbacks(cfg.get("callbacks")),
        logger=instantiate_loggers(cfg.get("logger")),
    )
    return datamodule, model, trainer


def test_config_groups_exist_as_designed():
    for group in (
        "data",
        "model",
        "trainer",
        "callbacks",
        "logger",
        "paths",
        "hydra",
        "experiment",
        "debug",
    ):
        assert options(group), group
    assert {"default", "cpu", "gpu", "ddp"} <= set(options("trainer"))
    assert {"tensorboard", "csv"} <= set(options("logger"))
    assert {"fast_dev_run", "overfit", "limit", "profiler"} <= set(options("debug"))
    assert {"sgd", "adamw"} <= set(options("model/optimizer"))
    assert {"step", "cosine_warmup", "plateau"} <= set(options("model/scheduler"))


GROUP_OPTIONS = [
    (group, option)
    for group in (
        "data",
        "model",
        "model/optimizer",
        "model/scheduler",
        "trainer",
        "callbacks",
        "logger",
        "experiment",
        "debug",
    )
    for option in options(group)
]


@pytest.mark.parametrize(("group", "option"), GROUP_OPTIONS)
def test_every_option_composes_and_instantiates(group, option, tmp_path, image_folder):
    cfg = compose_config("train", [f"{group}={option}"], tmp_path)
    if "train_per_class" in cfg.data:  # the generated shapes: keep them tiny
        overrides = [f"{group}={option}", *TINY_SHAPES]
    else:  # a dataset on disk: point it at the generated folder
        overrides = [
            f"{group}={option}",
            f"data.root={image_folder}",
            "data.num_classes=3",
            "data.image_size=64",
            "data.num_workers=0",
        ]
    cfg = compose_config("train", overrides, tmp_path)
    datamodule, model, trainer = build_all(cfg)
    assert model.num_classes == cfg.data.num_classes
    assert trainer.max_epochs >= 1


def test_early_stopping_adds_to_the_default_callbacks(tmp_path):
    cfg = compose_config("train", ["callbacks=[default,early_stopping]"], tmp_path)
    names = [type(c).__name__ for c in instantiate_callbacks(cfg.callbacks)]
    assert {"ModelCheckpoint", "EarlyStopping", "LearningRateMonitor"} <= set(names)


@pytest.mark.parametrize("name", ["eval", "predict"])
def test_eval_and_predict_configs_compose(name, tmp_path):
    cfg = compose_config(
        name,
        ["ckpt_path=x.ckpt", "inputs=img.jpg"] if name == "predict" else ["ckpt_path=x.ckpt"],
        tmp_path,
    )
    assert cfg.task_name == name


def test_paths_and_run_folders_follow_the_design(tmp_path):
    cfg = compose_config("train", [], tmp_path)
    assert cfg.data.root == str(tmp_path / "data" / "shapes")
    assert cfg.optimized_metric == "val/acc_best"
    assert cfg.model.optimizer._partial_ and cfg.model.scheduler._partial_
    best, last = cfg.callbacks.model_checkpoint, cfg.callbacks.last_checkpoint
    assert (best.filename, best.monitor, best.mode) == ("best", "val/acc", "max")
    assert (last.filename, last.monitor) == ("last", None)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.net.variant=vgg16", "model.net.variant"),
        ("model.optimizer.lr=-0.1", "model.optimizer.lr"),
        ("data.batch_size=0", "data.batch_size"),
        ("data.image_size=32", "data.image_size"),
        ("data.num_workers=-1", "data.num_workers"),
        ("model.net.dropout=1.0", "model.net.dropout"),
        ("data.on_bad_image=ignore", "data.on_bad_image"),
    ],
)
def test_bad_values_fail_before_training_with_the_key_named(override, key, tmp_path):
    cfg = compose_config("train", [override], tmp_path)
    with pytest.raises(ConfigError, match=key):
        check_config(cfg)


def test_missing_mandatory_value_is_named(tmp_path):
    cfg = compose_config("train", ["data=imagefolder"], tmp_path)
    with pytest.raises(ConfigError, match="data.root is not set"):
        check_config(cfg)


def test_linear_lr_scaling_is_opt_in_and_uses_the_global_batch(tmp_path):
    from alexnet_lightning.entry.train import _scale_lr

    cfg = compose_config("train", ["data.batch_size=64", "model.optimizer.lr=0.01"], tmp_path)
    _scale_lr(cfg, world_size=8)
    assert cfg.model.optimizer.lr == 0.01  # off by default
    cfg = compose_config(
        "train", ["data.batch_size=64", "model.optimizer.lr=0.01", "scale_lr=true"], tmp_path
    )
    _scale_lr(cfg, world_size=8)
    assert cfg.model.optimizer.lr == pytest.approx(0.01 * 64 * 8 / 256)


def test_multinode_config_sets_the_nodes_and_keeps_atomic_checkpoints(tmp_path):
    cfg = compose_config("train", ["trainer=ddp_multinode", "trainer.num_nodes=4"], tmp_path)
    assert (cfg.trainer.strategy, cfg.trainer.num_nodes) == ("ddp", 4)
    (plugin,) = cfg.trainer.plugins
    assert plugin._target_ == "alexnet_lightning.checkpoint_io.AtomicCheckpointIO"
