"""Find the images of each class in a local ILSVRC2012 copy, whichever way it is laid out.

Three layouts are recognised:
  sorted  SRC/train/<wnid>/*.JPEG and SRC/val/<wnid>/*.JPEG
  kaggle  SRC/ILSVRC/Data/CLS-LOC/{train/<wnid>/, val/} + SRC/LOC_val_solution.csv
  devkit  SRC/train/<wnid>/, flat SRC/val/ILSVRC2012_val_*.JPEG + the devkit's
          data/ILSVRC2012_validation_ground_truth.txt and data/meta.mat
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import scipy.io

from alexnet_lightning.data.manifest import is_image_file
from alexnet_lightning.dataset_tools.imagenet.classes import is_wnid, parse_synset_mapping
from alexnet_lightning.errors import DataError

KAGGLE_DATA = Path("ILSVRC/Data/CLS-LOC")
KAGGLE_VAL_CSV = "LOC_val_solution.csv"
MAPPING_FILES = ("LOC_synset_mapping.txt", "synset_words.txt")
DEVKIT_DIRS = ("ILSVRC2012_devkit_t12", "devkit", ".")
GROUND_TRUTH = Path("data/ILSVRC2012_validation_ground_truth.txt")
META_MAT = Path("data/meta.mat")
VAL_PATTERN = "ILSVRC2012_val_*.JPEG"

LOOKED_FOR = (
    "sorted: train/<wnid>/ and val/<wnid>/; "
    f"kaggle: {KAGGLE_DATA}/train/<wnid>/, {KAGGLE_DATA}/val/ and {KAGGLE_VAL_CSV}; "
    f"devkit: train/<wnid>/, a flat val/{VAL_PATTERN} folder and <devkit>/{GROUND_TRUTH} "
    f"+ <devkit>/{META_MAT} with <devkit> one of {', '.join(DEVKIT_DIRS)}"
)


@dataclass(frozen=True)
class SourceLayout:
    """Where a source keeps its images. `val_index` maps wnid -> val images for flat val folders."""

    kind: str
    root: Path
    train_dir: Path
    val_dir: Path
    val_index: dict[str, list[Path]] | None = None
    names: dict[str, str] = field(default_factory=dict)

    def classes(self) -> list[str]:
        """Wnids with a train folder, sorted."""
        return sorted(p.name for p in self.train_dir.iterdir() if p.is_dir() and is_wnid(p.name))

    def images(self, split: str, wnid: str) -> list[Path]:
        """Images of one class in one split, sorted by file name so reruns pick the same ones."""
        if split == "val" and self.val_index is not None:
            return sorted(self.val_index.get(wnid, []), key=lambda p: p.name)
        folder = (self.train_dir if split == "train" else self.val_dir) / wnid
        if not folder.is_dir():
            raise DataError(
                f"missing folder {folder}: the {self.kind} layout keeps {split} images of {wnid} "
                "there; restore it or leave that class out of --classes"
            )
        return sorted((p for p in folder.iterdir() if is_image_file(p)), key=lambda p: p.name)


def detect_layout(source: str | Path) -> SourceLayout:
    """Recognise the layout of `source`; raises one DataError listing what was looked for."""
    root = Path(source).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"source folder {root} does not exist; pass --source the ILSVRC2012 root")
    if (root / KAGGLE_DATA).is_dir():
        return _kaggle(root)
    train, val = root / "train", root / "val"
    if train.is_dir() and val.is_dir():
        entries = list(val.iterdir())
        if any(is_wnid(p.name) and p.is_dir() for p in entries):
            return SourceLayout("sorted", root, train, val, None, _mapping_names(root))
        if any(p.match(VAL_PATTERN) for p in entries):
            return _devkit(root, train, val)
    raise DataError(
        f"{root} is in no known ImageNet layout. Looked for: {LOOKED_FOR}. "
        "Point --source at the folder that holds them"
    )


def _mapping_names(root: Path) -> dict[str, str]:
    for name in MAPPING_FILES:
        path = root / name
        if path.is_file():
            return parse_synset_mapping(path.read_text(encoding="utf-8", errors="replace"))
    return {}


def _kaggle(root: Path) -> SourceLayout:
    data = root / KAGGLE_DATA
    train, val, csv_path = data / "train", data / "val", root / KAGGLE_VAL_CSV
    for path in (train, val):
        if not path.is_dir():
            raise DataError(f"Kaggle layout in {root} but {path} is missing; re-extract it")
    if not csv_path.is_file():
        raise DataError(
            f"Kaggle layout in {root} but {csv_path} (the val labels) is missing; "
            "copy it from the Kaggle download next to the ILSVRC folder"
        )
    index: dict[str, list[Path]] = {}
    with csv_path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                image_id, prediction = row["ImageId"], row["PredictionString"]
            except KeyError as err:
                raise DataError(
                    f"{csv_path} lacks the column {err}; expected ImageId,PredictionString"
                ) from err
            # PredictionString is "wnid x0 y0 x1 y1 [wnid x0 ...]"; every box has the same wnid.
            wnid = prediction.split()[0] if prediction.split() else ""
            if not is_wnid(wnid):
                raise DataError(f"{csv_path}: row {image_id!r} has no wnid in PredictionString")
            index.setdefault(wnid, []).append(val / f"{image_id}.JPEG")
    return SourceLayout("kaggle", root, train, val, index, _mapping_names(root))


def _devkit(root: Path, train: Path, val: Path) -> SourceLayout:
    candidates = [root / d for d in DEVKIT_DIRS]
    devkit = next((d for d in candidates if (d / GROUND_TRUTH).is_file()), None)
    if devkit is None:
        raise DataError(
            f"{val} holds flat ILSVRC2012_val_*.JPEG files but no devkit ground truth was found "
            f"(looked for {', '.join(str(d / GROUND_TRUTH) for d in candidates)}); extract "
            f"ILSVRC2012_devkit_t12.tar.gz into {root}"
        )
    meta_path = devkit / META_MAT
    if not meta_path.is_file():
        raise DataError(f"{meta_path} is missing; it maps ILSVRC2012_ID to wnid. Re-extract it")
    try:
        # torchvision's meta.mat parser is nested inside parse_devkit_archive (it wants the archive)
        meta = scipy.io.loadmat(meta_path, squeeze_me=True, simplify_cells=True)
        id_to_wnid, names = _devkit_synsets(meta.get("synsets"))
    except (
        scipy.io.matlab.MatReadError,
        NotImplementedError,
        OSError,
        KeyError,
        TypeError,
        ValueError,
    ) as err:
        raise DataError(f"cannot read {meta_path}: {err}; re-extract the devkit") from err
    index: dict[str, list[Path]] = {}
    lines = (devkit / GROUND_TRUTH).read_text(encoding="ascii").split()
    for number, text in enumerate(lines, start=1):
        wnid = id_to_wnid.get(int(text)) if text.isdigit() else None
        if wnid is None:
            raise DataError(
                f"{devkit / GROUND_TRUTH} line {number}: {text!r} is no ILSVRC2012_ID in meta.mat"
            )
        index.setdefault(wnid, []).append(val / f"ILSVRC2012_val_{number:08d}.JPEG")
    return SourceLayout("devkit", root, train, val, index, names)


def _devkit_synsets(synsets: object) -> tuple[dict[int, str], dict[str, str]]:
    """ILSVRC2012_ID -> wnid and wnid -> words for the 1000 leaf classes (IDs 1..1000)."""
    if isinstance(synsets, dict):  # squeeze_me makes a one-entry struct array a plain struct
        synsets = [synsets]
    if not isinstance(synsets, list) or not synsets:
        raise ValueError("no 'synsets' struct array")
    id_to_wnid: dict[int, str] = {}
    names: dict[str, str] = {}
    for synset in synsets:
        ilsvrc_id = int(synset["ILSVRC2012_ID"])
        if 1 <= ilsvrc_id <= 1000:
            wnid = str(synset["WNID"]).strip()
            id_to_wnid[ilsvrc_id] = wnid
            names[wnid] = str(synset.get("words") or wnid).strip()
    if not id_to_wnid:
        raise ValueError("no synsets with ILSVRC2012_ID 1..1000")
    return id_to_wnid, names
