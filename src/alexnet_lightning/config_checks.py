"""Checks of config values a user types, run before anything heavy is imported or built.

Hydra checks structure (unknown keys and groups, typos in overrides); these check types and
ranges, so a bad value fails in a second with the key and its allowed values named, instead
of minutes later deep inside torch. This module imports neither torch nor Lightning: the
scripts run it before they import them (see entry/cli.py).

``RULES`` is the one home of each rule: classes that take one of these values (the
DataModule's crops, decoder, ...) call ``check_value`` with the same key, so a value passed to
them directly, not through a config, fails with the same message. The networks know no config:
they check their own arguments (models/switches.py) and entry/network.py names the key.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from alexnet_lightning import metrics
from alexnet_lightning.errors import ConfigError
from alexnet_lightning.models.variants import (
    ACTIVATIONS,
    MIN_IMAGE_SIZE,
    POOLS,
    RENAMED,
    VARIANTS,
    target_of,
)

Rule = tuple[Callable[[Any], bool], str]


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def integer(low: int, example: int | None = None, also: tuple = (), note: str = "") -> Rule:
    hint = f"an integer >= {low}" + "".join(f" (or {a})" for a in also)
    hint += f", e.g. {example}" if example is not None else ""
    hint += f" {note}" if note else ""
    return (lambda v: v in also or (_is_int(v) and v >= low)), hint


def number(low: float, high: float | None = None, *, open_low=False, open_high=True, eg="") -> Rule:
    def ok(v: Any) -> bool:
        if not _is_number(v):
            return False
        above = v > low if open_low else v >= low
        below = high is None or (v < high if open_high else v <= high)
        return above and below

    if high is None:
        hint = f"a number {'>' if open_low else '>='} {low}"
    else:
        hint = f"a number in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
    return ok, hint + (f", e.g. {eg}" if eg else "")


def choice(*options: Any) -> Rule:
    return (lambda v: v in options), "one of " + ", ".join(str(o) for o in options)


class _Listed:
    """The allowed metric tags as text, read from the metrics table when a message is made."""

    def __init__(self, tags: Callable[[], tuple[str, ...]]) -> None:
        self.tags = tags

    def __str__(self) -> str:
        return "one of " + ", ".join(self.tags())


def metric(tags: Callable[[], tuple[str, ...]]) -> Rule:
    """A tag of metrics.METRICS that ``tags`` lists (read at check time, so a metric added
    there is accepted with no change here)."""
    return (lambda v: v in tags()), _Listed(tags)


def boolean() -> Rule:
    return (lambda v: isinstance(v, bool)), "true or false"


def range_pair(low: float, high: float | None) -> Rule:
    """[a, b] with low < a <= b (<= high): crop scales and aspect ratios."""

    def ok(v: Any) -> bool:
        return (
            isinstance(v, (list, tuple, ListConfig))
            and len(v) == 2
            and all(_is_number(x) for x in v)
            and low < v[0] <= v[1]
            and (high is None or v[1] <= high)
        )

    return ok, f"[a, b] with {low} < a <= b" + (f" <= {high}" if high is not None else "")


def batches(v: Any) -> bool:
    """Lightning's limit_*_batches / overfit_batches: a count, or a fraction of the epoch."""
    return (_is_int(v) and v >= 0) or (_is_number(v) and 0.0 <= v <= 1.0)


BATCHES = (batches, "an integer >= 0 (batches) or a fraction in [0, 1]")

# key -> (test, what a good value looks like). A key absent from the config (another script's
# config, an option file without it) or set to null is skipped. Flags Lightning checks itself
# (precision, accelerator, strategy) are not here: it refuses them as the Trainer is built,
# before the data is read (utils/instantiate.lightning_flags names the key).
RULES: dict[str, Rule] = {
    # top level (train.yaml, eval.yaml, predict.yaml)
    "seed": integer(0, 42),
    "seeds": integer(1, 3, note="(jobs per arm of experiment=ablation/* and figure1)"),
    "figure1.target_error": number(0.0, 1.0, open_low=True, open_high=False, eg="0.25"),
    "train": boolean(),
    "test": boolean(),
    "scale_lr": boolean(),
    "lr_reference_batch": integer(1, 256),
    "optimized_metric": metric(metrics.results),
    "tta": choice("none", "ten_crop"),
    "split": choice("val", "test"),
    "top_k": integer(1, 5),
    "queries": integer(1, 8),  # neighbours.yaml
    "neighbours": integer(1, 6),
    "chunk_size": integer(1, 4096),
    "batch_size": integer(1, 64),
    # data
    "data.num_classes": integer(2, 10),
    "data.batch_size": integer(1, 128),
    "data.num_workers": integer(0, 4, note="(0 loads in the main process)"),
    # each variant's own minimum is checked in check_config, which knows the variant
    "data.image_size": integer(min(MIN_IMAGE_SIZE.values()), 224),
    "data.train_crop": choice("random_resized", "paper", "none"),
    "data.hflip": boolean(),
    "data.normalize": boolean(),
    "data.crop_scale": range_pair(0.0, 1.0),
    "data.crop_ratio": range_pair(0.0, None),
    "data.eval_resize_ratio": number(1.0, eg="1.1428571428571428 (256/224)", open_high=False),
    "data.lighting_std": number(0.0, eg="0.1 (0 turns PCA lighting off)"),
    "data.pin_memory": boolean(),
    "data.persistent_workers": boolean(),
    "data.on_bad_image": choice("warn", "raise"),
    "data.test_split": choice("test", "val"),
    "data.test_views": choice("center", "ten_crop"),
    "data.decoder": choice("auto", "pil", "torchvision"),
    "data.reduced_decode": boolean(),
    "data.decode_on_device": boolean(),
    "data.cache_decoded": boolean(),
    "data.val_size": integer(1, 5000),
    "data.split_seed": integer(0, 0),
    # model
    "model.net.variant": choice(*VARIANTS),
    "model.net.dropout": number(0.0, 1.0, eg="0.5"),
    "model.net.activation": choice(*ACTIVATIONS),
    "model.net.lrn": boolean(),
    "model.net.pool": choice(*POOLS),
    "model.net.groups": integer(1, 2, note="(2: the paper's two-GPU connectivity)"),
    "model.net.init_weights": boolean(),
    "model.label_smoothing": number(0.0, 1.0, eg="0.1"),
    "model.monitor": metric(metrics.watchable),
    "model.compile": boolean(),
    "model.channels_last": boolean(),
    # model/optimizer
    "model.optimizer.lr": number(0.0, open_low=True, eg="0.01"),
    "model.optimizer.weight_decay": number(0.0, eg="0.0005"),
    "model.optimizer.momentum": number(0.0, 1.0, eg="0.9"),
    "model.optimizer.nesterov": boolean(),
    "model.optimizer.betas": (
        lambda v: len(v) == 2 and all(_is_number(b) and 0 <= b < 1 for b in v),
        "[beta1, beta2], each in [0, 1), e.g. [0.9, 0.999]",
    ),
    "model.optimizer.fused": boolean(),
    # model/scheduler
    "model.scheduler.step_size": integer(1, 30),
    "model.scheduler.gamma": number(0.0, 1.0, open_low=True, open_high=False, eg="0.1"),
    "model.scheduler.mode": choice("max", "min"),
    "model.scheduler.factor": number(0.0, 1.0, open_low=True, eg="0.1"),
    "model.scheduler.patience": integer(0, 3),
    "model.scheduler.min_lr": number(0.0, eg="1e-6"),
    "model.scheduler.warmup_fraction": number(0.0, 1.0, eg="0.05"),
    "model.scheduler.start_factor": number(0.0, 1.0, open_low=True, open_high=False, eg="0.01"),
    "model.scheduler.min_lr_ratio": number(0.0, 1.0, open_high=False, eg="0.0"),
    # trainer
    "trainer.max_epochs": integer(1, 15, also=(-1,)),
    "trainer.min_epochs": integer(0, 1),
    "trainer.max_steps": integer(1, 1000, also=(-1,)),
    "trainer.devices": (
        lambda v: (_is_int(v) and (v >= 1 or v == -1)) or isinstance(v, (str, ListConfig)),
        "an integer >= 1, -1 (all), auto, or a list of device indices",
    ),
    "trainer.num_nodes": integer(1, 1),
    "trainer.limit_train_batches": BATCHES,
    "trainer.limit_val_batches": BATCHES,
    "trainer.limit_test_batches": BATCHES,
    "trainer.overfit_batches": BATCHES,
    "trainer.val_check_interval": (
        lambda v: (_is_int(v) and v >= 1) or (_is_number(v) and 0.0 < v <= 1.0),
        "an integer >= 1 (batches) or a fraction in (0, 1]",
    ),
    "trainer.check_val_every_n_epoch": integer(1, 1),
    "trainer.num_sanity_val_steps": integer(0, 2, also=(-1,)),
    "trainer.accumulate_grad_batches": integer(1, 4),
    "trainer.gradient_clip_val": number(0.0, eg="1.0"),
    "trainer.gradient_clip_algorithm": choice("norm", "value"),
    "trainer.log_every_n_steps": integer(1, 10),
    "trainer.fast_dev_run": (
        lambda v: isinstance(v, bool) or (_is_int(v) and v >= 0),
        "true, false or a number of batches",
    ),
    "trainer.benchmark": boolean(),
    "trainer.deterministic": (lambda v: isinstance(v, bool) or v == "warn", "true, false or warn"),
    "trainer.detect_anomaly": boolean(),
    "trainer.enable_progress_bar": boolean(),
    "trainer.enable_model_summary": boolean(),
    "trainer.profiler": (
        lambda v: v in ("simple", "advanced", "pytorch") or isinstance(v, DictConfig),
        "simple, advanced, pytorch (or null)",
    ),
    # callbacks
    "callbacks.model_checkpoint.monitor": metric(metrics.watchable),
    "callbacks.model_checkpoint.mode": choice("max", "min"),
    "callbacks.model_checkpoint.save_top_k": integer(0, 1, also=(-1,)),
    "callbacks.step_checkpoint.every_n_train_steps": integer(0, 500, note="(0: off)"),
    "callbacks.early_stopping.monitor": metric(metrics.watchable),
    "callbacks.early_stopping.mode": choice("max", "min"),
    "callbacks.early_stopping.patience": integer(0, 5),
    "callbacks.early_stopping.min_delta": number(0.0, eg="0.0"),
    "callbacks.lr_monitor.logging_interval": choice("step", "epoch"),
    "callbacks.loss_watch.check_every_n_steps": integer(1, 50),
    "callbacks.rich_progress_bar.refresh_rate": integer(0, 5),
    "callbacks.rich_model_summary.max_depth": integer(-1, 2),
    "callbacks.tensorboard_images.max_images": integer(1, 32),
    "callbacks.tensorboard_images.every_n_epochs": integer(1, 5),
    # logger
    "logger.tensorboard.log_graph": boolean(),
    "logger.tensorboard.default_hp_metric": boolean(),
}


# imagefolder.yaml's keys about decoding files, at the values that ask for nothing. data=packed
# composes that file, so experiments written for JPEG folders run on a pack unchanged; set to
# anything else they would do nothing there, so a packed source refuses them.
FILE_OPTIONS = {
    "decoder": "auto",
    "reduced_decode": True,
    "decode_on_device": False,
    "cache_decoded": False,
    "on_bad_image": "warn",
    "missing_hint": None,
}


def refuse_file_options(data: Any) -> None:
    """Raise ConfigError for the first of ``FILE_OPTIONS`` that ``data`` (a packed source's
    settings) sets to something other than its idle value."""
    for key, idle in FILE_OPTIONS.items():
        value = data.get(key, idle)
        if value != idle:
            raise ConfigError(
                f"data.{key}={value!r} does not apply to a packed dataset, whose images are "
                "decoded already; drop it (data.packed_on_device=true keeps the decoded array "
                "in GPU memory)"
            )


def _missing_keys(cfg: DictConfig, prefix: str = "") -> Iterator[str]:
    """Keys left at ``???``, found without resolving interpolations (which would raise)."""
    for key in cfg:
        if OmegaConf.is_missing(cfg, key):
            yield f"{prefix}{key}"
        elif not OmegaConf.is_interpolation(cfg, key) and isinstance(cfg[key], DictConfig):
            yield from _missing_keys(cfg[key], f"{prefix}{key}.")


def check_value(key: str, value: Any) -> Any:
    """Raise ConfigError unless ``value`` passes ``RULES[key]``; return it."""
    test, expected = RULES[key]
    if key == "model.net.variant" and value in RENAMED:
        raise ConfigError(
            f"{key}={value!r} is invalid: it must be {RENAMED[value]}, that network's name now "
            f"(so it cannot be read as the random seed); use {key}={RENAMED[value]}"
        )
    try:
        ok = bool(test(value))
    except TypeError:
        ok = False
    if not ok:
        shown = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
        raise ConfigError(f"{key}={shown!r} is invalid: it must be {expected}")
    return value


def _check_eval_source(cfg: DictConfig) -> None:
    given = [key for key in ("ckpt_path", "sweep") if cfg.get(key) not in (None, "", [])]
    if not given:
        raise ConfigError(
            "ckpt_path is not set; pass ckpt_path=.../checkpoints/best.ckpt, "
            "ckpt_path=[a.ckpt,b.ckpt] (an ensemble) or sweep=logs/train/multiruns/<stamp>"
        )
    if len(given) == 2:
        raise ConfigError("both ckpt_path and sweep are set; pass one of them")
    if cfg.get("sweep_arm") is not None and cfg.get("sweep") is None:
        raise ConfigError("sweep_arm selects jobs of a sweep; pass sweep=<multirun folder> too")


def check_config(cfg: DictConfig) -> None:
    """Raise one ConfigError naming the first missing or invalid key and its allowed values."""
    missing = list(_missing_keys(cfg))
    if missing:
        raise ConfigError(
            f"{missing[0]} is not set; pass it on the command line, e.g. {missing[0]}=..."
        )
    if "sweep" in cfg:  # eval.yaml: one checkpoint, a list (an ensemble), or a sweep's
        _check_eval_source(cfg)
    for key in RULES:
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None:
            check_value(key, value)
    if OmegaConf.select(cfg, "data.packed_on_device", default=None) is not None:
        refuse_file_options(cfg.data)  # only a packed source has that key
    _check_image_size(cfg)
    _check_modes(cfg)


# (what watches, its metric key, its mode key)
WATCHERS = (
    ("callbacks.model_checkpoint", "monitor", "mode"),
    ("callbacks.early_stopping", "monitor", "mode"),
    ("model", "monitor", "scheduler.mode"),  # ReduceLROnPlateau's
)


def _check_modes(cfg: DictConfig) -> None:
    """Each watcher's mode is the way its metric gets better (metrics.METRICS)."""
    for prefix, tag_key, mode_key in WATCHERS:
        tag = OmegaConf.select(cfg, f"{prefix}.{tag_key}", default=None)
        mode = OmegaConf.select(cfg, f"{prefix}.{mode_key}", default=None)
        if tag in metrics.tags() and mode in ("max", "min") and mode != metrics.mode_of(tag):
            better = metrics.mode_of(tag)
            raise ConfigError(
                f"{prefix}.{mode_key}={mode} is invalid: {tag} is better when "
                f"{'higher' if better == 'max' else 'lower'}; set {prefix}.{mode_key}={better} "
                f"(or {prefix}.{tag_key} to another metric)"
            )


def _check_image_size(cfg: DictConfig) -> None:
    """A built-in network's smallest crop (a network chosen by ``_target_`` checks its own)."""
    variant = OmegaConf.select(cfg, "model.net.variant", default=None)
    size = OmegaConf.select(cfg, "data.image_size", default=None)
    target = OmegaConf.select(cfg, "model.net._target_", default=None)
    if variant is None or size is None or target != target_of(variant):
        return
    if size < MIN_IMAGE_SIZE[variant]:
        smaller = [v for v, least in MIN_IMAGE_SIZE.items() if least <= size]
        hint = f"; model.net.variant={smaller[0]} takes smaller crops" if smaller else ""
        if "cifar10" in str(OmegaConf.select(cfg, "data._target_", default="")):
            hint += "; for CIFAR-10, experiment=cifar10 sets the net, the crop and the recipe"
        raise ConfigError(
            f"data.image_size={size} is invalid: it must be at least {MIN_IMAGE_SIZE[variant]} "
            f"for model.net.variant={variant}{hint}"
        )
