"""ImageNet class lists: the shipped wnid -> name table, named subsets, and --classes parsing."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path

from alexnet_lightning.errors import ConfigError, DataError

WNID_RE = re.compile(r"^n\d{8}$")

# fast.ai's Imagenette: 10 easily told apart classes (github.com/fastai/imagenette).
IMAGENETTE: tuple[str, ...] = (
    "n01440764", "n02102040", "n02979186", "n03000684", "n03028079",
    "n03394916", "n03417042", "n03425413", "n03445777", "n03888257",
)  # fmt: skip

# fast.ai's Imagewoof: 10 dog breeds, hard to tell apart.
IMAGEWOOF: tuple[str, ...] = (
    "n02086240", "n02087394", "n02088364", "n02089973", "n02093754",
    "n02096294", "n02099601", "n02105641", "n02111889", "n02115641",
)  # fmt: skip

NAMED_LISTS = ("imagenette", "imagewoof", "imagenet100")


def is_wnid(text: str) -> bool:
    return bool(WNID_RE.match(text))


def _package_text(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@cache
def imagenet_names() -> dict[str, str]:
    """The 1000 ILSVRC2012 wnids (sorted, so index = class id) -> human-readable names."""
    names: dict[str, str] = {}
    for line in _package_text("imagenet_classes.tsv").splitlines():
        if line and not line.startswith("#"):
            wnid, name = line.split("\t", 1)
            names[wnid] = name
    return names


def parse_synset_mapping(text: str) -> dict[str, str]:
    """Parse `n01440764 tench, Tinca tinca` lines (Kaggle's LOC_synset_mapping.txt, Caffe's
    synset_words.txt, or our tsv); lines that do not start with a wnid are ignored."""
    names: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if parts and is_wnid(parts[0]):
            names[parts[0]] = parts[1].strip() if len(parts) > 1 else parts[0]
    return names


def imagenet100() -> list[str]:
    """The 100 classes of Tian et al., Contrastive Multiview Coding (CMC), in their order."""
    return _wnids_from_text(_package_text("imagenet100.txt"), "imagenet100.txt")


def named_class_list(name: str) -> list[str]:
    if name == "imagenette":
        return list(IMAGENETTE)
    if name == "imagewoof":
        return list(IMAGEWOOF)
    if name == "imagenet100":
        return imagenet100()
    raise ConfigError(f"--classes: unknown class list {name!r}; choose one of {NAMED_LISTS}")


def _wnids_from_text(text: str, where: str) -> list[str]:
    wnids: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        # Only the first word counts, so a synset mapping file works as a class file too.
        wnid = line.split()[0]
        if not is_wnid(wnid):
            raise ConfigError(
                f"--classes: {where} line {number}: {wnid!r} is not a WordNet id like n01440764"
            )
        if wnid not in wnids:
            wnids.append(wnid)
    return wnids


def read_wnid_file(path: str | Path) -> list[str]:
    """Wnids from a user file: one per line, `#` starts a comment, duplicates dropped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"--classes: cannot read class file {path}: {err.strerror}") from err
    wnids = _wnids_from_text(text, str(path))
    if not wnids:
        raise ConfigError(f"--classes: class file {path} lists no wnids")
    return wnids


def _random_classes(spec: str, available: Iterable[str] | None, seed: int) -> list[str]:
    count_text = spec.split(":", 1)[1]
    if not count_text.isdigit() or int(count_text) < 1:
        raise ConfigError(f"--classes: {spec!r} needs a positive count, e.g. random:100")
    if available is None:
        raise ConfigError(f"--classes: {spec!r} needs the source's classes to draw from")
    pool = sorted(set(available))
    count = int(count_text)
    if count > len(pool):
        raise ConfigError(
            f"--classes: {spec!r} asks for {count} classes but the source has {len(pool)}"
        )
    return random.Random(seed).sample(pool, count)


def resolve_class_list(
    spec: str | Iterable[str],
    available: Iterable[str] | None = None,
    seed: int = 0,
    *,
    where: str = "the source",
) -> list[str]:
    """Turn a --classes value into sorted wnids.

    `spec` is imagenette | imagewoof | imagenet100 | random:N | a path to a wnid file, or an
    iterable of wnids. With `available`, wnids missing from it raise a DataError naming
    `where`; random:N draws from `available` with `seed`.
    """
    if isinstance(spec, str):
        if spec in NAMED_LISTS:
            wnids = named_class_list(spec)
        elif spec.startswith("random:"):
            wnids = _random_classes(spec, available, seed)
        elif Path(spec).expanduser().is_file():
            wnids = read_wnid_file(Path(spec).expanduser())
        else:
            raise ConfigError(
                f"--classes: {spec!r} is neither a class list ({', '.join(NAMED_LISTS)}), "
                "random:N, nor an existing file of wnids"
            )
    else:
        wnids = _wnids_from_text("\n".join(spec), "the class list")
        if not wnids:
            raise ConfigError("--classes: the class list is empty")
    if available is not None:
        present = set(available)
        missing = [w for w in wnids if w not in present]
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise DataError(
                f"{len(missing)} of {len(wnids)} requested classes are not in {where}: {shown}. "
                "Check --classes, or point --source at a full ILSVRC2012 copy"
            )
    return sorted(wnids)
