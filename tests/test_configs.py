"""Every option of every config group composes and instantiates; bad values name their key."""

import copy
import inspect
import re
import subprocess
import sys

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from alexnet_lightning.config_checks import check_config
from alexnet_lightning.dataset_tools.pack import pack_dataset
from alexnet_lightning.dataset_tools.synthetic_cifar10 import write_cifar10_archive
from alexnet_lightning.errors import ConfigError
from alexnet_lightning.utils.instantiate import instantiate_callbacks, instantiate_loggers
from tests.conftest import CONF, TINY_SHAPES, compose_config


def options(group: str, nested: bool = False) -> list[str]:
    """A config group's options; ``nested``: with those in its subfolders (ablation/lrn)."""
    folder = CONF / group
    files = folder.rglob("*.yaml") if nested else folder.glob("*.yaml")
    return sorted(str(p.relative_to(folder).with_suffix("")) for p in files)


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


@pytest.mark.slow
@pytest.mark.parametrize(("group", "option"), GROUP_OPTIONS)
def test_every_option_composes_and_instantiates(group, option, tmp_path, image_folder):
    cfg = compose_config("train", [f"{group}={option}"], tmp_path)
    if "train_per_class" in cfg.data:  # the generated shapes: keep them tiny
        overrides = [f"{group}={option}", *TINY_SHAPES]
    elif cfg.data._target_.endswith("Cifar10DataModule"):  # a tiny archive where it looks
        archive = tmp_path / "data" / "cifar-10-python.tar.gz"
        archive.parent.mkdir(parents=True, exist_ok=True)
        md5 = write_cifar10_archive(archive, per_batch=4, test=4, seed=0)
        overrides = [f"{group}={option}", f"data.md5={md5}", "data.val_size=8"]
        overrides += ["data.num_workers=0", "data.persistent_workers=false"]
        overrides += ["model.net.variant=cifar"]  # 24 px crops: too small for AlexNet
    else:  # a dataset on disk: point it at the generated folder (packed, for data=packed)
        root = image_folder
        if cfg.data._target_.endswith("PackedDataModule"):
            root = pack_dataset(image_folder, tmp_path / "packed", side=73, progress=False)
        overrides = [
            f"{group}={option}",
            f"data.root={root}",
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
    assert {"ModelCheckpoint", "EarlyStopping", "StableLearningRateMonitor"} <= set(names)


@pytest.mark.parametrize("name", ["eval", "predict"])
def test_eval_and_predict_configs_compose_and_pass_the_checks(name, tmp_path):
    overrides = (
        ["ckpt_path=x.ckpt", "inputs=img.jpg"] if name == "predict" else ["ckpt_path=x.ckpt"]
    )
    cfg = compose_config(name, overrides, tmp_path)
    check_config(cfg)
    with pytest.raises(ConfigError, match="ckpt_path is not set"):
        check_config(compose_config(name, overrides[1:], tmp_path))


def test_linear_lr_scaling_is_opt_in_and_uses_the_global_batch(tmp_path):
    from alexnet_lightning.entry.train import _record_settled_values

    cfg = compose_config("train", ["data.batch_size=64", "model.optimizer.lr=0.01"], tmp_path)
    _record_settled_values(cfg, num_classes=3, world_size=8)
    assert cfg.model.optimizer.lr == 0.01  # off by default
    cfg = compose_config(
        "train", ["data.batch_size=64", "model.optimizer.lr=0.01", "scale_lr=true"], tmp_path
    )
    _record_settled_values(cfg, num_classes=3, world_size=8)
    assert cfg.model.optimizer.lr == pytest.approx(0.01 * 64 * 8 / 256)


def test_num_classes_from_the_data_only_when_the_config_leaves_it_null(tmp_path):
    from alexnet_lightning.entry.train import _record_settled_values

    cfg = compose_config("train", ["data.num_classes=null"], tmp_path)
    _record_settled_values(cfg, num_classes=7, world_size=1)
    assert cfg.data.num_classes == 7 and cfg.model.net.num_classes == 7
    cfg = compose_config("train", ["data.num_classes=5"], tmp_path)
    _record_settled_values(cfg, num_classes=7, world_size=1)
    assert cfg.data.num_classes == 5  # the data module already checked the folders against it


def test_multinode_config_keeps_the_node_count_given_and_atomic_checkpoints(tmp_path):
    from lightning.pytorch.strategies import DDPStrategy

    from alexnet_lightning.checkpoints import AtomicCheckpointIO

    cfg = compose_config(
        "train",
        ["trainer=ddp_multinode", "trainer.num_nodes=4", "trainer.accelerator=cpu"],
        tmp_path,
    )
    trainer = instantiate(cfg.trainer, devices=1, logger=False)
    assert trainer.num_nodes == 4  # the command line wins over the file's num_nodes: 2
    assert isinstance(trainer.strategy, DDPStrategy)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


# --- every experiment x optimizer x scheduler ------------------------------------------------


def build_optimizer_and_scheduler(model_cfg, params, total_steps=100):
    """What AlexNetClassifier.configure_optimizers does with the two partials."""
    optimizer = instantiate(model_cfg.optimizer)(params=params)
    scheduler = None
    if model_cfg.scheduler:
        make = instantiate(model_cfg.scheduler)
        if "total_steps" in inspect.signature(make).parameters:
            scheduler = make(optimizer, total_steps=total_steps)
        else:
            scheduler = make(optimizer)
    return optimizer, scheduler


@pytest.mark.slow
def test_every_experiment_composes_with_every_optimizer_and_scheduler(tmp_path):
    """The folders are listed, so a new experiment, optimizer or scheduler file is covered."""
    net = torch.nn.Linear(4, 3)
    built = {}
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for experiment in options("experiment", nested=True):
            for optimizer in options("model/optimizer"):
                for scheduler in [*options("model/scheduler"), None]:
                    chosen = (
                        "model.scheduler=null"
                        if scheduler is None
                        else (f"model/scheduler={scheduler}")
                    )
                    overrides = [
                        f"experiment={experiment}",
                        f"model/optimizer={optimizer}",
                        chosen,
                        "data.root=/somewhere",  # an ImageFolder experiment needs one
                    ]
                    cfg = compose("train", overrides=overrides)
                    check_config(cfg)
                    opt, sched = build_optimizer_and_scheduler(cfg.model, net.parameters())
                    # the chosen file, whole: its target and none of the experiment's own keys
                    assert type(opt).__name__.lower() == optimizer
                    want = OmegaConf.load(CONF / "model" / "optimizer" / f"{optimizer}.yaml")
                    assert set(cfg.model.optimizer) <= set(want), overrides
                    built[experiment, optimizer, scheduler] = sched
    assert len(built) == len(options("experiment", nested=True)) * len(
        options("model/optimizer")
    ) * (len(options("model/scheduler")) + 1)
    # the experiments' own schedules still hold when nothing replaces them
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        subset = compose("train", overrides=["experiment=imagenet_subset"]).model
        paper = compose("train", overrides=["experiment=alexnet_paper"]).model
    _, step = build_optimizer_and_scheduler(subset, net.parameters())
    _, plateau = build_optimizer_and_scheduler(paper, net.parameters())
    assert (type(step).__name__, step.step_size) == ("StepLR", 20)
    assert (type(plateau).__name__, plateau.patience, plateau.mode) == (
        "ReduceLROnPlateau",
        5,
        "max",
    )


def test_search_space_of_the_optuna_config_builds_for_every_sampled_optimizer(tmp_path):
    """hparams_search=alexnet_optuna samples model/optimizer; each choice must build."""
    search = OmegaConf.load(CONF / "hparams_search" / "alexnet_optuna.yaml")
    sampled = search.hydra.sweeper.params["model/optimizer"]
    choices = sampled[sampled.index("(") + 1 : sampled.index(")")].replace(" ", "").split(",")
    assert set(choices) <= set(options("model/optimizer"))
    for optimizer in choices:
        cfg = compose_config(
            "train",
            ["experiment=imagenet_subset", f"model/optimizer={optimizer}", "data.root=/x"],
            tmp_path,
        )
        opt, _ = build_optimizer_and_scheduler(cfg.model, torch.nn.Linear(2, 2).parameters())
        assert type(opt).__name__.lower() == optimizer


# --- Trainer keys without '+' ---------------------------------------------------------------


def test_common_trainer_keys_need_no_plus_and_reach_the_trainer(tmp_path):
    overrides = {
        "limit_train_batches": 3,
        "limit_val_batches": 2,
        "limit_test_batches": 0.5,
        "gradient_clip_val": 1.5,
        "accumulate_grad_batches": 4,
        "val_check_interval": 0.5,
        "max_steps": 7,
        "num_sanity_val_steps": 0,
        "benchmark": True,
        "enable_progress_bar": False,
        "num_nodes": 1,
        "overfit_batches": 0.0,
    }
    cfg = compose_config(
        "train",
        ["trainer=cpu", "trainer.max_time=00:00:01:00"]
        + [f"trainer.{k}={v}" for k, v in overrides.items()],
        tmp_path,
    )
    check_config(cfg)
    trainer = instantiate(cfg.trainer, logger=False)
    for key, value in overrides.items():
        if key == "enable_progress_bar":
            assert trainer.progress_bar_callback is None
        elif key == "benchmark":
            assert torch.backends.cudnn.benchmark is True
        else:
            assert getattr(trainer, key) == value, key
    timer = next(c for c in trainer.callbacks if type(c).__name__ == "Timer")
    assert timer._duration == 60
    # and the defaults listed in the file are Lightning's own
    plain = instantiate(compose_config("train", ["trainer=cpu"], tmp_path).trainer, logger=False)
    assert plain.limit_train_batches == 1.0 and plain.num_sanity_val_steps == 2
    assert plain.max_steps == -1 and plain.fast_dev_run is False


def test_fast_dev_run_and_strategy_override_without_plus(tmp_path):
    from lightning.pytorch.strategies import DDPStrategy, SingleDeviceStrategy

    cfg = compose_config("train", ["trainer=cpu", "trainer.fast_dev_run=true"], tmp_path)
    assert instantiate(cfg.trainer, logger=False).fast_dev_run is True
    # ddp_cpu's strategy is an object; the command line may replace it by a name
    cfg = compose_config("train", ["trainer=ddp_cpu", "trainer.strategy=ddp_spawn"], tmp_path)
    strategy = instantiate(cfg.trainer, logger=False).strategy
    assert isinstance(strategy, DDPStrategy) and strategy._start_method == "spawn"
    cfg = compose_config("train", ["trainer=cpu", "trainer.strategy=single_device"], tmp_path)
    with open_dict(cfg):
        cfg.trainer.strategy = {
            "_target_": "lightning.pytorch.strategies.SingleDeviceStrategy",
            "device": "cpu",
        }
    assert isinstance(instantiate(cfg.trainer, logger=False).strategy, SingleDeviceStrategy)


# --- bad values: one message naming the key and what it may be ------------------------------

BAD_VALUES = [
    # data
    ("data.batch_size=abc", "data.batch_size='abc'", "an integer >= 1"),
    ("data.batch_size=0", "data.batch_size=0", "an integer >= 1"),
    ("data.batch_size=1.5", "data.batch_size=1.5", "an integer >= 1"),
    ("data.num_workers=-1", "data.num_workers=-1", "an integer >= 0"),
    ("data.image_size=32", "data.image_size=32", "at least 64 for model.net.variant=half"),
    ("data.image_size=4", "data.image_size=4", "an integer >= 8"),
    ("data.train_crop=centre", "data.train_crop='centre'", "one of random_resized, paper"),
    ("data.crop_scale=[0.9,0.1]", "data.crop_scale=[0.9, 0.1]", "[a, b] with 0.0 < a <= b <= 1.0"),
    ("data.lighting_std=-0.1", "data.lighting_std=-0.1", "a number >= 0.0"),
    ("data.on_bad_image=ignore", "data.on_bad_image='ignore'", "one of warn, raise"),
    ("data.decoder=nvjpeg", "data.decoder='nvjpeg'", "one of auto, pil, torchvision"),
    ("data.persistent_workers=yes", "data.persistent_workers='yes'", "true or false"),
    # model
    ("model.net.variant=vgg16", "model.net.variant='vgg16'", "one of half, paper, torchvision"),
    ("model.net.variant=seed", "model.net.variant='seed'", "use model.net.variant=half"),
    ("model.net.activation=gelu", "model.net.activation='gelu'", "one of relu, tanh, sigmoid"),
    ("model.net.lrn=maybe", "model.net.lrn='maybe'", "true or false"),
    ("model.net.pool=average", "model.net.pool='average'", "overlapping, non_overlapping"),
    ("model.net.groups=0", "model.net.groups=0", "an integer >= 1"),
    ("model.net.dropout=1.0", "model.net.dropout=1.0", "a number in [0.0, 1.0)"),
    ("model.label_smoothing=-1", "model.label_smoothing=-1", "a number in [0.0, 1.0)"),
    (
        "model.monitor=val/accuracy",
        "model.monitor='val/accuracy'",
        "one of train/loss, val/loss, train/acc, val/acc, val/acc_best, ",
    ),
    ("model.compile=maybe", "model.compile='maybe'", "true or false"),
    # model/optimizer
    ("model.optimizer.lr=-0.1", "model.optimizer.lr=-0.1", "a number > 0.0"),
    ("model.optimizer.lr=fast", "model.optimizer.lr='fast'", "a number > 0.0"),
    ("model.optimizer.weight_decay=-1", "model.optimizer.weight_decay=-1", "a number >= 0.0"),
    ("model.optimizer.betas=[0.9,1.0]", "model.optimizer.betas=[0.9, 1.0]", "each in [0, 1)"),
    # model/scheduler (cosine_warmup is the default; the others via their option)
    ("model.scheduler.warmup_fraction=1.5", "model.scheduler.warmup_fraction=1.5", "[0.0, 1.0)"),
    ("model.scheduler.start_factor=0", "model.scheduler.start_factor=0", "(0.0, 1.0]"),
    # trainer
    ("trainer.max_epochs=0", "trainer.max_epochs=0", "an integer >= 1 (or -1)"),
    ("trainer.max_steps=0", "trainer.max_steps=0", "an integer >= 1 (or -1)"),
    ("trainer.devices=0", "trainer.devices=0", "an integer >= 1, -1 (all), auto"),
    ("trainer.limit_train_batches=-3", "trainer.limit_train_batches=-3", "or a fraction in [0, 1]"),
    ("trainer.limit_val_batches=1.5", "trainer.limit_val_batches=1.5", "or a fraction in [0, 1]"),
    ("trainer.val_check_interval=0", "trainer.val_check_interval=0", "a fraction in (0, 1]"),
    ("trainer.accumulate_grad_batches=0", "trainer.accumulate_grad_batches=0", "integer >= 1"),
    ("trainer.gradient_clip_val=-1", "trainer.gradient_clip_val=-1", "a number >= 0.0"),
    ("trainer.gradient_clip_algorithm=l2", "trainer.gradient_clip_algorithm='l2'", "norm, value"),
    ("trainer.num_sanity_val_steps=-2", "trainer.num_sanity_val_steps=-2", "(or -1)"),
    ("trainer.deterministic=always", "trainer.deterministic='always'", "true, false or warn"),
    ("trainer.profiler=fancy", "trainer.profiler='fancy'", "simple, advanced, pytorch"),
    # callbacks
    (
        "callbacks.model_checkpoint.monitor=acc",
        "callbacks.model_checkpoint.monitor='acc'",
        "val/acc",
    ),
    ("callbacks.model_checkpoint.mode=up", "callbacks.model_checkpoint.mode='up'", "max, min"),
    (
        "callbacks.step_checkpoint.every_n_train_steps=-5",
        "callbacks.step_checkpoint.every_n_train_steps=-5",
        "an integer >= 0",
    ),
    # logger
    ("logger.tensorboard.log_graph=1", "logger.tensorboard.log_graph=1", "true or false"),
    # the run itself
    ("seed=-1", "seed=-1", "an integer >= 0"),
    ("optimized_metric=val/accuracy", "optimized_metric='val/accuracy'", "val/acc_best"),
    ("test=sometimes", "test='sometimes'", "true or false"),
]


@pytest.fixture(scope="module")
def default_train_config(tmp_path_factory) -> DictConfig:
    return compose_config("train", [], tmp_path_factory.mktemp("cfg"))


def with_override(cfg: DictConfig, override: str) -> DictConfig:
    """``cfg`` with one ``key=value`` applied as Hydra applies it (same value parser), without
    composing the whole config again for each case."""
    (parsed,) = OverridesParser.create().parse_overrides([override])
    cfg = copy.deepcopy(cfg)
    OmegaConf.update(cfg, parsed.key_or_group, parsed.value(), merge=True)
    return cfg


@pytest.mark.parametrize(
    ("override", "named", "allowed"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES]
)
def test_bad_values_name_the_key_and_what_it_may_be(override, named, allowed, default_train_config):
    with pytest.raises(ConfigError) as raised:
        check_config(with_override(default_train_config, override))
    message = str(raised.value)
    assert message.startswith(f"{named} is invalid: it must be "), message
    assert allowed in message
    assert "\n" not in message  # one line


def test_each_variant_names_the_builder_the_config_checks_expect(tmp_path):
    from alexnet_lightning.models.net import builder
    from alexnet_lightning.models.variants import VARIANTS, target_of

    for variant in VARIANTS:
        cfg = compose_config("train", [f"model.net.variant={variant}"], tmp_path)
        assert cfg.model.net._target_ == target_of(variant)
        assert callable(builder(cfg.model.net))


def test_a_network_chosen_by_target_checks_its_own_crop_size(default_train_config):
    small = with_override(default_train_config, "data.image_size=32")
    check_config(with_override(small, "model.net._target_=mypkg.MyNet"))
    with pytest.raises(ConfigError, match="at least 64 for model.net.variant=half; model.net"):
        check_config(small)


def test_data_cifar10_with_an_alexnet_size_net_names_a_command_that_works(tmp_path):
    # what the offline CIFAR-10 message tells a user to run, and what this message names
    with pytest.raises(ConfigError) as raised:
        check_config(compose_config("train", ["data=cifar10"], tmp_path))
    message = str(raised.value)
    assert message.startswith("data.image_size=24 is invalid: it must be at least 64 for ")
    assert "model.net.variant=cifar takes smaller crops" in message
    assert "experiment=cifar10 sets the net" in message and "\n" not in message
    for named in (["data=cifar10", "model.net.variant=cifar"], ["experiment=cifar10"]):
        check_config(compose_config("train", named, tmp_path))


def test_bad_value_cases_are_typed_by_hydra_as_by_the_shortcut(tmp_path, default_train_config):
    """The shortcut above applies overrides itself; Hydra's compose must give the same values."""
    by_key = {b[0].split("=", 1)[0]: b[0] for b in BAD_VALUES}  # one case per key
    composed = compose_config("train", list(by_key.values()), tmp_path)
    for override in by_key.values():
        key = override.split("=", 1)[0]
        shortcut = OmegaConf.select(with_override(default_train_config, override), key)
        assert OmegaConf.select(composed, key) == shortcut, override


@pytest.mark.parametrize(
    ("group", "override", "named"),
    [
        ("model/optimizer=sgd", "model.optimizer.momentum=1.5", "model.optimizer.momentum=1.5"),
        ("model/scheduler=step", "model.scheduler.step_size=0", "model.scheduler.step_size=0"),
        ("model/scheduler=step", "model.scheduler.gamma=2", "model.scheduler.gamma=2"),
        ("model/scheduler=plateau", "model.scheduler.mode=up", "model.scheduler.mode='up'"),
        ("model/scheduler=plateau", "model.scheduler.patience=-1", "model.scheduler.patience=-1"),
        (
            "callbacks=[default,early_stopping]",
            "callbacks.early_stopping.patience=-1",
            "patience=-1",
        ),
    ],
)
def test_bad_values_of_other_options_name_the_key(group, override, named, tmp_path):
    cfg = compose_config("train", [group, override], tmp_path)
    with pytest.raises(ConfigError, match=f"{re.escape(named)} is invalid: it must be"):
        check_config(cfg)


def test_missing_mandatory_value_is_named(tmp_path):
    cfg = compose_config("train", ["data=imagefolder"], tmp_path)
    with pytest.raises(ConfigError, match="data.root is not set"):
        check_config(cfg)


def test_config_checks_import_no_torch():
    """The scripts check the config before importing torch and Lightning (seconds); the checks
    must not import them themselves."""
    code = (
        "import sys, alexnet_lightning.config_checks, alexnet_lightning.entry.cli; "
        "print(sorted({'torch', 'lightning', 'optuna', 'torchvision'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the same rules guard the classes when they are built without a config --------------------

CLASS_VALUES = [
    ("image_files", "data.on_bad_image='ignore'", "one of warn, raise"),
    ("datamodule_crop", "data.train_crop='centre'", "one of random_resized, paper, none"),
    ("datamodule_views", "data.test_views='five_crop'", "one of center, ten_crop"),
    ("decoder", "data.decoder='nvjpeg'", "one of auto, pil, torchvision"),
]


@pytest.mark.parametrize(("build", "shown", "expected"), CLASS_VALUES)
def test_classes_built_directly_check_with_the_config_rules(tmp_path, build, shown, expected):
    from alexnet_lightning.data.decode import DecodeRandomResizedCrop
    from alexnet_lightning.data.folder import ImageFiles
    from alexnet_lightning.data.folder_datamodule import ImageFolderDataModule

    builders = {
        "image_files": lambda: ImageFiles(tmp_path, [], str, on_bad_image="ignore"),
        "datamodule_crop": lambda: ImageFolderDataModule(str(tmp_path), train_crop="centre"),
        "datamodule_views": lambda: ImageFolderDataModule(str(tmp_path), test_views="five_crop"),
        "decoder": lambda: DecodeRandomResizedCrop(64, decoder="nvjpeg"),
    }
    with pytest.raises(ConfigError) as info:
        builders[build]()
    assert str(info.value) == f"{shown} is invalid: it must be {expected}"
