"""Throughput on the current machine, like for like (``python scripts/benchmark.py``; every key
in conf/benchmark.yaml; ``benchmark.json`` with every window and ``table.md`` in the run folder).

- Compute ceiling and Lightning tax: the plain PyTorch loop and Trainer.fit get the SAME
  batches: uint8, already on the device, each step through the DataModule's own
  ``on_after_batch_transfer`` (flip, PCA lighting, normalisation; for data=packed the crops),
  from the same random state. Both record a checksum of every batch the model receives; the
  table says "same batches" only when they match step for step. The plain loop runs on both
  sides of Trainer.fit, so a drifting machine does not decide the tax. ``compute_cases`` adds
  plain-loop settings (fp32, bf16, channels_last, compile) beside the run's own.
- Timing: every figure is the median of back-to-back windows after a warm-up (min-max beside
  it); the device is synchronised at window edges only, never per step.
- Loaders: before a loader's clock starts, its queue (workers x prefetch_factor batches, made
  before anyone waited for them) is taken untimed; from then on the consumer takes each batch
  as it appears, so a window counts only batches made while it ran (``timing.drained``).
  Windows hold at least one batch per worker.
- End to end, per data path (``data_paths``: jpeg-cpu, jpeg-gpu with nvJPEG, packed-host,
  packed-device): Trainer.fit reading its DataModule, beside its input rate alone (loader +
  device hooks, no model) and its share of the plain loop timed beside it: window by window,
  interleaved, when the path's loader has no workers (nothing is made ahead meanwhile), else
  right before and after its run. A path is a set of data overrides; one that needs CUDA or a
  missing pack is skipped with a note.
- Memory is PSS (psutil): pages the workers share count once in total, not once per worker as
  RSS counts them.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra import compose
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from lightning.pytorch.utilities import move_data_to_device
from omegaconf import DictConfig, OmegaConf, open_dict
from torch.utils.data import DataLoader

from alexnet_lightning.benchmarks.timing import (
    NO_PSS,
    Checksums,
    PSSSampler,
    WindowClock,
    device_sync,
    drained,
    loader_steps,
    pss_available,
    same_tensors,
    summarise,
    timed_windows,
    workers_pss_mb,
)
from alexnet_lightning.config_checks import check_config
from alexnet_lightning.data.datamodule import standalone_trainer
from alexnet_lightning.errors import ConfigError
from alexnet_lightning.utils.instantiate import lightning_flags
from alexnet_lightning.utils.run_files import write_json

log = logging.getLogger(__name__)
AUTOCAST_DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


# --- data ---------------------------------------------------------------------------------


def data_path_config(cfg: DictConfig, spec: DictConfig) -> DictConfig | str:
    """The data config of one data path, or why it is skipped.

    A path either changes keys of ``cfg.data`` (``set``), or swaps in another data group
    (``group``, e.g. packed) that keeps the loader settings ``cfg.data`` shares with it.
    """
    if spec.get("needs_cuda") and not torch.cuda.is_available():
        return "skipped: needs CUDA"
    changes = spec.get("set")
    changes = OmegaConf.to_container(changes, resolve=True) if changes else {}
    if "root" in changes and changes["root"] is None:
        return "skipped: no packed_root (a folder made by scripts/pack_dataset.py)"
    if spec.get("group"):
        data = _data_group(spec.group, changes.get("root", "unset"))
        shared = set(data) - {"_target_", "root", "num_classes"}
        for key in shared & set(cfg.data):
            data[key] = cfg.data[key]
    else:
        data = OmegaConf.create(OmegaConf.to_container(cfg.data, resolve=True))
    for key, value in changes.items():
        data[key] = value
    return data


def _data_group(group: str, root: str) -> DictConfig:
    """conf/data/<group>.yaml as Hydra composes it (its own defaults included), from the config
    search path of the running Hydra app (scripts/benchmark.py gives it), wherever the package
    is installed."""
    if not GlobalHydra.instance().is_initialized():
        raise ConfigError(
            f"a data path with group: {group} composes conf/data/{group}.yaml: run it through "
            "scripts/benchmark.py, or inside hydra.initialize_config_dir(<the conf folder>)"
        )
    composed = compose(config_name="benchmark", overrides=[f"data={group}", f"data.root={root}"])
    return OmegaConf.create(OmegaConf.to_container(composed.data, resolve=True))


def make_datamodule(data_cfg: DictConfig, device: torch.device) -> Any:
    datamodule = instantiate(data_cfg)
    datamodule.prepare_data()
    datamodule.inspect()
    datamodule.trainer = standalone_trainer(device)
    datamodule.setup("fit")
    return datamodule


def device_batches(datamodule: Any, count: int, device: torch.device) -> list:
    """``count`` training batches as Lightning hands them to ``on_after_batch_transfer``:
    through ``on_before_batch_transfer`` (device decoding) and onto the device, uint8."""
    loader = datamodule.train_dataloader()
    batches = []
    for batch in itertools.islice(itertools.cycle(loader), count):
        batch = datamodule.on_before_batch_transfer(batch, 0)
        batches.append(move_data_to_device(batch, device))
    return batches


def input_steps(datamodule: Any, device: torch.device) -> Iterator[int]:
    """The whole input pipeline without the model: loader, transfer hooks, device."""
    loader = datamodule.train_dataloader()
    for batch in drained(loader):
        batch = datamodule.on_before_batch_transfer(batch, 0)
        batch = move_data_to_device(batch, device)
        images, _ = datamodule.on_after_batch_transfer(batch, 0)
        yield int(images.shape[0])


def loader_rates(
    datamodule: Any, workers: int, cfg: DictConfig, memory: PSSSampler | None = None
) -> list[float]:
    datamodule.hparams.num_workers = workers
    loader = datamodule.train_dataloader()
    per_window = max(cfg.window_batches, workers)
    steps = loader_steps(loader)  # holds the loader's iterator, so its workers, until we return
    rates = timed_windows(steps, cfg.warmup_batches, cfg.windows, per_window)
    if memory is not None:
        memory.sample()  # after the clock: the workers are alive and have done their work
    return rates


# --- compute --------------------------------------------------------------------------------


def _model(cfg: DictConfig, names: list[str], **model_changes: Any) -> Any:
    model_cfg = OmegaConf.merge(cfg.model, model_changes)
    model = instantiate(model_cfg, class_names=names)
    model.hparams.scheduler = None  # the schedule is no part of the speed
    return model


def plain_loop(
    model: Any,
    batches: list,
    augment: Callable[[Any], Any],
    precision: str,
    cfg: DictConfig,
    checksums: Checksums | None = None,
) -> Callable[[int, int], list[float]]:
    """(2) Forward, loss, backward, optimizer step, written out in plain PyTorch with the
    switches Trainer.fit gets (precision; model.channels_last and model.compile act inside the
    module), on the given on-device batches through ``augment``.

    Returned as ``time(warmup, windows)``: ``warmup`` more steps untimed, then ``windows``
    windows of ``cfg.window_batches`` steps, back to back, each one's images/s. Called again,
    it goes on where it stopped (to interleave with another loop's windows)."""
    device = model.device
    optimizer = instantiate(model.hparams.optimizer)(params=model.parameters())
    dtype = AUTOCAST_DTYPES.get(str(precision))
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    def steps() -> Iterator[int]:
        model.train()
        torch.manual_seed(cfg.seed)  # the same augmentation draws as Trainer.fit's
        for batch in itertools.cycle(batches):
            images, targets = augment(batch)
            if checksums is not None:
                checksums.add((images, targets))
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = model.criterion(model(images), targets)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            yield images.shape[0]

    running, sync = steps(), device_sync(device)
    return lambda warmup, windows: timed_windows(running, warmup, windows, cfg.window_batches, sync)


class _Repeated(torch.utils.data.Dataset):
    """The on-device batches, repeated: the whole timed run is one epoch, as the plain loop's."""

    def __init__(self, batches: list, length: int) -> None:
        self.batches, self.length = batches, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Any:
        return self.batches[index % len(self.batches)]


class SameBatches(L.LightningDataModule):
    """Feeds Trainer.fit the plain loop's on-device batches, through the real DataModule's
    ``on_after_batch_transfer``."""

    def __init__(self, source: Any, batches: list, length: int) -> None:
        super().__init__()
        self.source, self.batches, self.length = source, batches, length

    def setup(self, stage: str) -> None:
        self.source.trainer = self.trainer

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            _Repeated(self.batches, self.length),
            batch_size=None,
            shuffle=False,
            # its own generator: drawing a base seed from the global RNG would shift the
            # augmentation draws away from the plain loop's
            generator=torch.Generator(),
        )

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return self.source.on_after_batch_transfer(batch, dataloader_idx)


def fit_rates(
    model: Any,
    datamodule: Any,
    cfg: DictConfig,
    seed: int | None = None,
    between: Callable[[], float] | None = None,
) -> WindowClock:
    """(3)/(4) Trainer.fit over ``datamodule``, timed in windows of steps (``WindowClock``;
    ``between``: another loop's window before each of them)."""
    clock = WindowClock(
        cfg.warmup_batches, cfg.windows, cfg.window_batches, seed=seed, between=between
    )
    trainer = L.Trainer(
        accelerator=cfg.accelerator,
        devices=1,
        precision=cfg.precision,
        max_steps=cfg.warmup_batches + cfg.windows * cfg.window_batches,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[clock],
    )
    trainer.fit(model, datamodule=datamodule)
    return clock


def compute_cases(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """name -> plain-loop settings; ``configured`` (the run's own settings) always first."""
    own = {
        "precision": str(cfg.precision),
        "channels_last": bool(cfg.model.get("channels_last", False)),
        "compile": bool(cfg.model.get("compile", False)),
    }
    cases = {"configured": own}
    for name, case in (cfg.get("compute_cases") or {}).items():
        case = {**own, **OmegaConf.to_container(case, resolve=True)}
        if case != own:
            cases[str(name)] = case
    return cases


# --- the whole benchmark --------------------------------------------------------------------


def _check(cfg: DictConfig) -> torch.device:
    check_config(cfg)
    if cfg.windows < 1 or cfg.window_batches < 1 or cfg.warmup_batches < 1:
        raise ConfigError("windows, window_batches and warmup_batches must be >= 1")
    if cfg.accelerator == "auto":
        with open_dict(cfg):
            cfg.accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    if cfg.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError("accelerator=gpu but CUDA is not available; use accelerator=cpu")
    flags = {"accelerator": cfg.accelerator, "precision": cfg.precision}
    with lightning_flags(flags):  # its refusal now, not after the batches are decoded
        L.Trainer(**flags, devices=1, logger=False, enable_checkpointing=False)
    return torch.device("cuda" if cfg.accelerator in ("gpu", "cuda") else "cpu")


def run_benchmark(cfg: DictConfig) -> dict[str, Any]:
    """All measurements; writes ``benchmark.json`` and ``table.md`` into the run folder."""
    device = _check(cfg)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = make_datamodule(cfg.data, device)
    info = datamodule.inspect()
    with open_dict(cfg):
        cfg.data.num_classes = len(info.classes)
    result: dict[str, Any] = {"settings": OmegaConf.to_container(cfg, resolve=True)}

    with PSSSampler() as memory:
        workers = list(cfg.loader_workers or [])
        result["loader_spread"] = {
            str(w): summarise(loader_rates(datamodule, w, cfg, memory)) for w in workers
        }
        datamodule.hparams.num_workers = int(cfg.data.num_workers)
        if cfg.decode_images > 0 and hasattr(datamodule, "file_transform"):
            result["decode_spread"] = decode_rates(datamodule, cfg)

        # (2) and (3): the same uint8 batches on the device, the same augmentation
        batches = device_batches(datamodule, cfg.window_batches, device)
        augment = functools.partial(datamodule.on_after_batch_transfer, dataloader_idx=0)
        compute = {}
        for name, case in compute_cases(cfg).items():
            changes = {"channels_last": case["channels_last"], "compile": case["compile"]}
            model = _model(cfg, info.names, **changes).to(device)
            time_loop = plain_loop(model, batches, augment, case["precision"], cfg)
            compute[name] = time_loop(cfg.warmup_batches, cfg.windows)
            _progress(f"compute {name}", compute[name])
            del model
        steps = cfg.warmup_batches + cfg.windows * cfg.window_batches
        same_batches = SameBatches(datamodule, batches, steps)
        fit = fit_rates(_model(cfg, info.names), same_batches, cfg, cfg.seed)
        datamodule.trainer = standalone_trainer(device)  # fit left its finished trainer there
        _progress("Trainer.fit, same batches", fit.rates)
        # the plain loop on both sides of Trainer.fit: a drifting machine (shared cores) then
        # does not decide the tax
        plain_sums, plain_model = Checksums(), _model(cfg, info.names).to(device)
        time_loop = plain_loop(plain_model, batches, augment, cfg.precision, cfg, plain_sums)
        plain = time_loop(cfg.warmup_batches, cfg.windows)
        del plain_model
        ceiling = summarise(compute["configured"] + plain)
        result["compute_spread"] = {name: summarise(r) for name, r in compute.items()}
        result["compute_spread"]["configured"] = ceiling
        result["lightning_spread"] = summarise(fit.rates)
        result["lightning_tax"] = ceiling["median"] / result["lightning_spread"]["median"] - 1
        result["same_batches"] = same_tensors(plain_sums, fit.checksums)
        result["batches_compared"] = min(len(plain_sums.sums), len(fit.checksums.sums))

        # (4): every data path, end to end and its input rate alone
        result["data_paths"] = {}

        def plain_beside(interleaved: bool) -> Any:
            model = _model(cfg, info.names).to(device)
            time_loop = plain_loop(model, batches, augment, cfg.precision, cfg)
            if not interleaved:
                return time_loop(cfg.warmup_batches, cfg.windows)
            time_loop(cfg.warmup_batches, 0)
            return lambda: time_loop(0, 1)[0]

        for name, spec in (cfg.get("data_paths") or {}).items():
            if spec is None:  # data_paths.<name>=null turns a path off
                continue
            try:
                figures = data_path_figures(cfg, spec, device, info.names, plain_beside)
            except Exception as err:  # noqa: BLE001 - one broken path must not lose the rest
                log.exception("data path %s failed", name)
                figures = {"note": f"failed: {type(err).__name__}: {err}"[:300]}
            result["data_paths"][str(name)] = figures
            log.info("data path %s: %s", name, figures)
        if cfg.memory_epochs > 0 and not pss_available():
            log.warning("worker memory by epoch %s", NO_PSS)
        elif cfg.memory_epochs > 0:
            result["memory_workers"] = int(cfg.memory_workers or os.cpu_count() or 1)
            result["worker_pss_mb_by_epoch"] = worker_memory_by_epoch(
                datamodule, result["memory_workers"], cfg.memory_epochs
            )
    for figures in result["data_paths"].values():
        if "end_to_end" not in figures:
            continue
        if "of_plain_by_window" in figures:  # interleaved: the pairs, each seconds apart
            figures["of_ceiling"] = figures["of_plain_by_window"]["median"]
        else:
            beside = figures["plain_beside"]["median"]
            figures["of_ceiling"] = figures["end_to_end"]["median"] / beside
        figures["of_input"] = figures["end_to_end"]["median"] / figures["input"]["median"]
    peak = {"main": memory.main_mb, "workers": memory.workers_mb}
    result["peak_pss_mb"] = peak if pss_available() else NO_PSS
    write_json(Path(cfg.paths.output_dir) / "benchmark.json", result)
    (Path(cfg.paths.output_dir) / "table.md").write_text(format_table(result) + "\n")
    return result


def _progress(what: str, rates: list[float]) -> None:
    """Each figure as soon as it exists: a check cut short by its time limit still tells."""
    log.info("%s: %.0f images/s (median of %s)", what, summarise(rates)["median"], len(rates))


def data_path_figures(
    cfg: DictConfig,
    spec: DictConfig,
    device: torch.device,
    names: list[str],
    plain_beside: Callable[[bool], Any],
) -> dict[str, Any]:
    """The path's input rate and Trainer.fit end to end, set against the plain loop (the
    ceiling) timed beside it: on a shared machine whose load drifts, a ceiling timed minutes
    earlier decides nothing. A loader without workers (nothing can be made ahead while the
    other loop runs) interleaves window by window with the plain loop; one with workers gets the
    plain loop right before and right after its run."""
    data_cfg = data_path_config(cfg, spec)
    if isinstance(data_cfg, str):
        return {"note": data_cfg}
    datamodule = make_datamodule(data_cfg, device)
    if len(datamodule.inspect().classes) != len(names):
        raise ConfigError(f"data path {data_cfg.get('root')}: not the benchmark's classes")
    sync = device_sync(device)
    input_rate = timed_windows(
        input_steps(datamodule, device),
        cfg.warmup_batches,
        cfg.windows,
        max(cfg.window_batches, int(data_cfg.num_workers)),
        sync,
    )
    figures: dict[str, Any] = {"input": summarise(input_rate)}
    if int(data_cfg.num_workers) == 0:
        fit = fit_rates(_model(cfg, names), datamodule, cfg, between=plain_beside(True))
        beside = fit.between_rates
        ratios = [e / p for e, p in zip(fit.rates, beside, strict=True)]
        figures.update(plain_timing="interleaved", of_plain_by_window=summarise(ratios))
    else:
        before = plain_beside(False)
        fit = fit_rates(_model(cfg, names), datamodule, cfg)
        beside = before + plain_beside(False)
        figures["plain_timing"] = "before and after"
    del datamodule  # its workers exit
    figures.update(end_to_end=summarise(fit.rates), plain_beside=summarise(beside))
    return figures


DECODE_CASES = {  # name -> (data.decoder, data.reduced_decode)
    "pil_full": ("pil", False),
    "pil_reduced": ("pil", True),
    "torchvision": ("torchvision", True),
    "auto": ("auto", True),
}


def decode_rates(datamodule: Any, cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """Decode + crop of one file at a time in one thread, as a loader worker does it, for each
    decoder: the measurement behind ``data.decoder=auto``."""
    datamodule.setup("validate")
    out = {}
    for split in ("train", "val"):
        files = datamodule.datasets[split]
        count = min(len(files), cfg.decode_images)
        paths = [str(files.split_dir / files.paths[i]) for i in range(count)]
        hp = datamodule.hparams
        saved = (hp.decoder, hp.reduced_decode, torch.get_num_threads())
        torch.set_num_threads(1)  # what DataLoader gives each worker
        rates = {}
        try:
            for name, (decoder, reduced) in DECODE_CASES.items():
                hp.decoder, hp.reduced_decode = decoder, reduced
                transform = datamodule.file_transform(split)
                per_window = max(1, count // cfg.windows)
                images = _one_per_file(transform, paths)
                rates[name] = summarise(timed_windows(images, 1, cfg.windows, per_window))
        finally:
            hp.decoder, hp.reduced_decode = saved[0], saved[1]
            torch.set_num_threads(saved[2])
        out[split] = rates
    return out


def _one_per_file(transform: Callable[[str], Any], paths: list[str]) -> Iterator[int]:
    for path in itertools.cycle(paths):
        transform(path)
        yield 1


def worker_memory_by_epoch(datamodule: Any, workers: int, epochs: int) -> list[float]:
    """PSS of all loader workers together after each full epoch, with persistent workers: it
    stays flat unless touching the sample list copies it page by page."""
    hp = datamodule.hparams
    saved = (hp.num_workers, hp.persistent_workers)
    hp.num_workers, hp.persistent_workers = workers, True
    loader = datamodule.train_dataloader()
    per_epoch = []
    try:
        for _ in range(epochs):
            for _ in loader:
                pass
            per_epoch.append(workers_pss_mb())
    finally:
        del loader  # shuts the workers down
        hp.num_workers, hp.persistent_workers = saved
    return per_epoch


# --- the table ------------------------------------------------------------------------------


def format_table(result: dict[str, Any]) -> str:
    """The figures as the README shows them."""
    ceiling = result["compute_spread"]["configured"]["median"]

    def row(name: str, spread: dict[str, float], note: str = "") -> str:
        return (
            f"| {name} | {spread['median']:.0f} | {spread['min']:.0f}-{spread['max']:.0f} "
            f"| {note} |"
        )

    lines = [
        "| measurement | images/s (median) | spread (min-max) | note |",
        "| --- | --- | --- | --- |",
    ]
    for name, spread in result["compute_spread"].items():
        label = "plain loop, run's settings (the ceiling)" if name == "configured" else name
        lines.append(row(f"compute: {label}", spread, f"{spread['median'] / ceiling:.0%}"))
    same = "same batches" if result["same_batches"] else "DIFFERENT BATCHES"
    lines.append(
        row(
            "Trainer.fit, same on-device batches",
            result["lightning_spread"],
            f"Lightning tax {100 * result['lightning_tax']:.1f}%; {same} "
            f"({result['batches_compared']} compared)",
        )
    )
    for name, figures in result["data_paths"].items():
        if "note" in figures:
            note = figures["note"].replace("|", "/").replace("\n", " ")
            lines.append(f"| {name}: end to end | - | - | {note} |")
            continue
        lines.append(row(f"{name}: input alone (loader + device hooks)", figures["input"]))
        timing = figures["plain_timing"]
        lines.append(row(f"{name}: plain loop, {timing}", figures["plain_beside"]))
        by_window = figures.get("of_plain_by_window")
        windows = (
            f" (median of its windows' ratios; {by_window['min']:.0%}-{by_window['max']:.0%})"
            if by_window
            else ""
        )
        lines.append(
            row(
                f"{name}: end to end (Trainer.fit)",
                figures["end_to_end"],
                f"{figures['of_ceiling']:.0%} of the plain loop beside it{windows}, "
                f"{figures['of_input']:.0%} of its input rate",
            )
        )
    for workers, spread in result["loader_spread"].items():
        lines.append(row(f"loader alone, {workers} workers", spread))
    for split, rates in result.get("decode_spread", {}).items():
        lines += [row(f"decode + crop, {split}, {name}, 1 thread", s) for name, s in rates.items()]
    peak = result["peak_pss_mb"]
    if isinstance(peak, str):
        lines.append(f"\npeak PSS: {peak}")
    else:
        lines.append(
            f"\npeak PSS: main {peak['main']:.0f} MB, loader workers together "
            f"{peak['workers']:.0f} MB"
        )
    if "worker_pss_mb_by_epoch" in result:
        by_epoch = ", ".join(f"{mb:.0f}" for mb in result["worker_pss_mb_by_epoch"])
        lines.append(
            f"PSS of {result['memory_workers']} persistent workers after each epoch: {by_epoch} MB"
        )
    return "\n".join(lines)
