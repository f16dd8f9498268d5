"""The ImageNet subset builder: layouts, class lists, conversion, links, resume, errors, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from alexnet_lightning.data.manifest import load_manifest
from alexnet_lightning.dataset_tools.imagenet import (
    IMAGENETTE,
    IMAGEWOOF,
    build_subset,
    detect_layout,
    imagenet100,
    imagenet_names,
    resolve_class_list,
)
from alexnet_lightning.errors import ConfigError, DataError
from tests.conftest import ROOT
from tests.fake_imagenet import (
    DEVKIT_NAMES,
    KAGGLE_NAMES,
    WNIDS,
    make_source,
    write_meta_mat,
)

REPO = ROOT
SCRIPT = REPO / "scripts" / "make_imagenet_subset.py"


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """One fake source per layout, shared read-only by the tests of this module."""
    base = tmp_path_factory.mktemp("sources")
    return {layout: make_source(base / layout, layout) for layout in ("sorted", "kaggle", "devkit")}


def build(info: dict, dest: Path, **kwargs) -> dict:
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("progress", False)
    build_subset(info["root"], dest, kwargs.pop("classes", list(WNIDS)), **kwargs)
    manifest = load_manifest(dest)
    assert manifest is not None
    return manifest


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())


# --- class lists -----------------------------------------------------------------------------


def test_shipped_class_lists_have_the_right_sizes() -> None:
    names = imagenet_names()
    assert len(names) == 1000 and list(names) == sorted(names)
    assert names["n01440764"] == "tench, Tinca tinca"
    assert len(IMAGENETTE) == len(set(IMAGENETTE)) == 10
    assert len(IMAGEWOOF) == len(set(IMAGEWOOF)) == 10
    hundred = imagenet100()
    assert len(hundred) == len(set(hundred)) == 100
    assert set(IMAGENETTE) | set(IMAGEWOOF) | set(hundred) <= set(names)


def test_resolve_class_list_specs(tmp_path: Path) -> None:
    assert resolve_class_list("imagewoof") == sorted(IMAGEWOOF)
    user = tmp_path / "mine.txt"
    user.write_text("# my classes\nn02979186  # cassette player\n\nn01440764 tench\nn01440764\n")
    assert resolve_class_list(str(user), WNIDS) == ["n01440764", "n02979186"]
    pool = [f"n{i:08d}" for i in range(50)]
    drawn = resolve_class_list("random:5", pool, seed=3)
    assert len(drawn) == 5 and drawn == sorted(drawn)
    assert drawn == resolve_class_list("random:5", pool, seed=3)
    assert drawn != resolve_class_list("random:5", pool, seed=4)


@pytest.mark.parametrize("spec", ["nonsense", "random:0", "random:x", "random:51"])
def test_resolve_class_list_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ConfigError, match="--classes"):
        resolve_class_list(spec, [f"n{i:08d}" for i in range(50)])


def test_bad_line_in_class_file_is_named(tmp_path: Path) -> None:
    user = tmp_path / "bad.txt"
    user.write_text("n01440764\ntench\n")
    with pytest.raises(ConfigError, match=r"bad.txt line 2: 'tench'"):
        resolve_class_list(str(user))


# --- building from each layout ---------------------------------------------------------------


@pytest.mark.parametrize("layout", ["sorted", "kaggle", "devkit"])
def test_build_copies_each_layout(sources: dict, tmp_path: Path, layout: str) -> None:
    info = sources[layout]
    manifest = build(info, tmp_path / "out")
    expected_names = {
        "sorted": [imagenet_names()[w] for w in WNIDS],
        "kaggle": [KAGGLE_NAMES[w] for w in WNIDS],
        "devkit": [DEVKIT_NAMES[w] for w in WNIDS],
    }[layout]
    assert manifest["format"] == 1
    assert manifest["layout"] == layout
    assert manifest["classes"] == WNIDS
    assert manifest["names"] == expected_names
    assert manifest["source"] == str(info["root"].resolve())
    # Every image but the truncated one arrives (info counts only decodable ones); the
    # truncated one is listed as skipped.
    assert manifest["counts"]["train"] == info["train"]
    assert manifest["counts"]["val"] == info["val"]
    assert manifest["skipped"] == [str(info["truncated"])]
    for split in ("train", "val"):
        for wnid in WNIDS:
            folder = tmp_path / "out" / split / wnid
            assert len(list(folder.iterdir())) == manifest["counts"][split][wnid]
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == [
        "manifest.json",
        "train",
        "val",
    ]


def test_per_class_limits_take_the_first_files_by_name(sources: dict, tmp_path: Path) -> None:
    manifest = build(sources["sorted"], tmp_path / "out", train_per_class=2, val_per_class=1)
    assert manifest["counts"] == {"train": dict.fromkeys(WNIDS, 2), "val": dict.fromkeys(WNIDS, 1)}
    names = sorted(p.name for p in (tmp_path / "out" / "train" / WNIDS[0]).iterdir())
    assert names == [f"{WNIDS[0]}_0000.JPEG", f"{WNIDS[0]}_0001.JPEG"]


def test_resize_gives_rgb_jpegs_with_the_shorter_side_set(sources: dict, tmp_path: Path) -> None:
    manifest = build(sources["kaggle"], tmp_path / "out", resize=32, quality=80)
    assert manifest["options"]["resize"] == 32
    assert len(manifest["skipped"]) == 1
    outputs = [p for p in files(tmp_path / "out") if p.suffix == ".JPEG"]
    assert len(outputs) == sum(sum(c.values()) for c in manifest["counts"].values())
    for path in outputs:
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.mode == "RGB", path
            # The 24x24 PNG is smaller than 32 and must not be upscaled.
            assert min(image.size) == (24 if "_png" in path.name else 32), path
            if "_grey" in path.name:
                assert image.size == (45, 32)  # 56x40 keeps its aspect ratio


def test_link_makes_hard_links(sources: dict, tmp_path: Path) -> None:
    info = sources["sorted"]
    build(info, tmp_path / "out", link=True)
    linked = tmp_path / "out" / "train" / WNIDS[1] / f"{WNIDS[1]}_0000.JPEG"
    original = info["root"] / "train" / WNIDS[1] / linked.name
    assert linked.is_symlink() or os.stat(linked).st_ino == os.stat(original).st_ino


def test_link_falls_back_to_symlinks(
    sources: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def no_hard_links(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_hard_links)
    info = sources["sorted"]
    build(info, tmp_path / "out", link=True)
    linked = tmp_path / "out" / "val" / WNIDS[0]
    assert all(p.is_symlink() and p.resolve().is_file() for p in linked.iterdir())


def test_parallel_build_matches_serial(sources: dict, tmp_path: Path) -> None:
    serial = build(sources["devkit"], tmp_path / "one", resize=32)
    parallel = build(sources["devkit"], tmp_path / "two", resize=32, workers=2)
    assert parallel["counts"] == serial["counts"] and parallel["skipped"] == serial["skipped"]
    one = [p.relative_to(tmp_path / "one") for p in files(tmp_path / "one")]
    two = [p.relative_to(tmp_path / "two") for p in files(tmp_path / "two")]
    assert [p for p in one if p.name != ".subset-build.json"] == [
        p for p in two if p.name != ".subset-build.json"
    ]


def test_random_classes_come_from_the_source(sources: dict, tmp_path: Path) -> None:
    manifest = build(sources["sorted"], tmp_path / "out", classes="random:2", seed=1)
    assert len(manifest["classes"]) == 2 and set(manifest["classes"]) <= set(WNIDS)
    assert manifest["options"]["classes"] == "random:2"


# --- resume and idempotence ------------------------------------------------------------------


def test_rerun_is_idempotent_and_only_redoes_missing_files(sources: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = build(sources["sorted"], out, resize=32)
    stamps = {p: p.stat().st_mtime_ns for p in files(out) if p.suffix == ".JPEG"}
    victim = out / "val" / WNIDS[2] / "ILSVRC2012_val_00000005.JPEG"
    victim.unlink()
    second = build(sources["sorted"], out, resize=32)
    assert second == first
    assert victim.is_file()
    for path, stamp in stamps.items():
        if path != victim:
            assert path.stat().st_mtime_ns == stamp, f"{path} was rewritten"


def test_stale_temp_files_are_removed_and_not_trusted(sources: dict, tmp_path: Path) -> None:
    info = sources["sorted"]
    out = tmp_path / "out"
    build(info, out)
    # Simulate a crash mid-copy: the final file is missing, a half-written temp is left.
    name = f"{WNIDS[1]}_0001.JPEG"
    final = out / "train" / WNIDS[1] / name
    final.unlink()
    stale = final.with_name(f".{name}.0123456789ab.tmp")
    stale.write_bytes(b"\xff\xd8half a jpeg")
    (out / "manifest.json").unlink()
    manifest = build(info, out)
    assert not stale.exists()
    assert final.read_bytes() == (info["root"] / "train" / WNIDS[1] / name).read_bytes()
    assert manifest["counts"]["train"][WNIDS[1]] == 3
    assert not [p for p in files(out) if p.name.endswith(".tmp")]


def test_smaller_rerun_prunes_what_it_no_longer_wants(sources: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(sources["sorted"], out, train_per_class=3)
    manifest = build(sources["sorted"], out, train_per_class=1, classes=WNIDS[:2])
    assert manifest["counts"]["train"] == dict.fromkeys(WNIDS[:2], 1)
    assert sorted(p.name for p in (out / "train").iterdir()) == WNIDS[:2]
    assert len(list((out / "train" / WNIDS[0]).iterdir())) == 1


def test_rerun_with_other_file_options_is_refused(sources: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(sources["sorted"], out)
    with pytest.raises(DataError, match="Use another --dest"):
        build(sources["sorted"], out, resize=32)


# --- errors ----------------------------------------------------------------------------------


def test_dest_inside_or_equal_to_source_is_refused(sources: dict) -> None:
    root = sources["sorted"]["root"]
    for dest in (root, root / "subset"):
        with pytest.raises(DataError, match="inside --source"):
            build_subset(root, dest, WNIDS, progress=False)
    assert not (root / "subset").exists()


def test_foreign_nonempty_dest_is_refused(sources: dict, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="neither an empty folder"):
        build(sources["sorted"], tmp_path)
    with pytest.raises(DataError, match="neither an empty folder"):
        build(sources["sorted"], tmp_path / "notes.txt")


def test_missing_wnid_is_named(sources: dict, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"7 of 10 requested classes are not in .*n03000684"):
        build(sources["kaggle"], tmp_path / "out", classes="imagenette")
    with pytest.raises(DataError, match="n09999999"):
        build(sources["kaggle"], tmp_path / "out", classes=["n01440764", "n09999999"])
    assert not (tmp_path / "out").exists()


def test_unknown_layout_lists_what_was_looked_for(tmp_path: Path) -> None:
    (tmp_path / "src" / "images").mkdir(parents=True)
    with pytest.raises(DataError) as caught:
        detect_layout(tmp_path / "src")
    message = str(caught.value)
    for expected in ("sorted:", "kaggle:", "devkit:", "LOC_val_solution.csv", "meta.mat"):
        assert expected in message
    with pytest.raises(DataError, match="does not exist"):
        detect_layout(tmp_path / "nowhere")


def test_missing_val_folder_is_named(tmp_path: Path) -> None:
    info = make_source(tmp_path / "src", "sorted", n_train=1, n_val=1, specials=False)
    for image in (info["root"] / "val" / WNIDS[1]).iterdir():
        image.unlink()
    (info["root"] / "val" / WNIDS[1]).rmdir()
    with pytest.raises(DataError, match=rf"missing folder .*val/{WNIDS[1]}"):
        build(info, tmp_path / "out")


def test_kaggle_without_val_csv_and_devkit_without_ground_truth(tmp_path: Path) -> None:
    kaggle = make_source(tmp_path / "k", "kaggle", n_train=1, n_val=1, specials=False)
    (kaggle["root"] / "LOC_val_solution.csv").unlink()
    with pytest.raises(DataError, match="LOC_val_solution.csv"):
        detect_layout(kaggle["root"])
    devkit = make_source(tmp_path / "d", "devkit", n_train=1, n_val=1, specials=False)
    truth = devkit["root"] / "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt"
    truth.unlink()
    with pytest.raises(DataError, match="devkit ground truth"):
        detect_layout(devkit["root"])


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"link": True, "resize": 64}, "--link"),
        ({"quality": 0}, "--quality"),
        ({"resize": 0}, "--resize"),
        ({"train_per_class": -1}, "--train-per-class"),
        ({"workers": 0}, "--workers"),
    ],
)
def test_bad_options_name_the_option(
    sources: dict, tmp_path: Path, kwargs: dict, option: str
) -> None:
    with pytest.raises(ConfigError, match=option):
        build(sources["sorted"], tmp_path / "out", **kwargs)


# --- the devkit's meta.mat ------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
def test_devkit_meta_mat_maps_ids_to_wnids_and_names(tmp_path: Path, compress: bool) -> None:
    info = make_source(tmp_path / "d", "devkit", n_train=1, n_val=1, specials=False)
    write_meta_mat(info["root"] / "ILSVRC2012_devkit_t12" / "data" / "meta.mat", compress)
    layout = detect_layout(info["root"])
    assert layout.names == {**DEVKIT_NAMES, "n02119789": "kit fox, Vulpes macrotis"}
    # ground truth lines are IDs 449, 218, 483 (not in wnid order); the non-leaf 1001 is left out
    assert {w: [p.name for p in layout.images("val", w)] for w in WNIDS} == {
        w: [f"ILSVRC2012_val_{n:08d}.JPEG"] for n, w in enumerate(WNIDS, start=1)
    }


def test_unreadable_meta_mat_is_a_data_error(tmp_path: Path) -> None:
    info = make_source(tmp_path / "d", "devkit", n_train=1, n_val=1, specials=False)
    meta = info["root"] / "ILSVRC2012_devkit_t12" / "data" / "meta.mat"
    meta.write_bytes(meta.read_bytes()[:200])
    with pytest.raises(DataError, match="meta.mat"):
        detect_layout(info["root"])


# --- command line ----------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_cli_help() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for option in ("--source", "--dest", "--classes", "--resize", "--link", "--workers"):
        assert option in result.stdout


@pytest.mark.slow
def test_cli_builds_and_reports_user_errors(sources: dict, tmp_path: Path) -> None:
    classes = tmp_path / "classes.txt"
    classes.write_text("\n".join(WNIDS[:2]) + "\n")
    args = ["--source", str(sources["devkit"]["root"]), "--dest", str(tmp_path / "out")]
    result = run_cli(*args, "--classes", str(classes), "--resize", "32", "--workers", "2")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["classes"] == WNIDS[:2] and manifest["options"]["resize"] == 32
    assert "truncated" in result.stderr  # the skip warning names the file

    bad = run_cli(*args, "--classes", "imagenette", "--link", "--resize", "64")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: --link") and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
