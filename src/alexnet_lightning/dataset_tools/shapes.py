"""Built-in dataset: procedurally generated colour images of shapes on cluttered backgrounds.

Why it exists: the template must train and be testable with no download. Each image holds one
filled shape (the class) with random colour, size, position, rotation and a mild stretch, on a
random gradient or flat background with pixel noise and clutter (lines, dots, small outlines)
in random colours. Colour is drawn from the same distribution for every class, so only shape
tells the classes apart and an untrained network sits at chance.

The images are written as JPEGs in torchvision ImageFolder layout::

    <root>/train/<NN_shape>/<iiiii>.jpg
    <root>/val/<NN_shape>/<iiiii>.jpg
    <root>/manifest.json

Each image's RNG is seeded from (seed, split, class index, image index), so the same arguments
give byte-identical files whatever the build order. Builds are safe when several processes
(DDP ranks, sweep jobs) ask for the same root at once: they take an exclusive lock next to the
root, build into a hidden sibling folder, write ``manifest.json`` last and rename it into place
(files.build_folder_once, as the CIFAR-10 packs).
"""

from __future__ import annotations

import colorsys
import math
import operator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from alexnet_lightning.data.manifest import count_images, read_manifest, write_manifest
from alexnet_lightning.errors import ConfigError, DataError
from alexnet_lightning.files import build_folder_once

__all__ = ["SHAPE_CLASSES", "SOURCE", "ensure_shapes_dataset"]

#: Class names in label order; a dataset with ``num_classes=k`` uses the first ``k``.
SHAPE_CLASSES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "arrow",
    "crescent",
    "ring",
    # Beyond the default eight: heart and semicircle are easily taken for square and triangle
    # at 64 px; pentagon and hexagon for the circle and each other (harder sets).
    "heart",
    "semicircle",
    "pentagon",
    "hexagon",
)

#: Written into every manifest and marker; only folders carrying it are ever deleted.
SOURCE = "alexnet_lightning shapes generator"
#: Bump when the images change for the same arguments, so old datasets on disk get rebuilt.
GENERATOR_VERSION = 5
#: Written first into every build, so a dataset whose manifest was lost is still known as ours.
MARKER_NAME = ".alexnet_lightning_shapes"
SPLITS = ("train", "val")
JPEG_QUALITY = 90
_SUPERSAMPLE = 4  # the shape mask is drawn at 4x and box-downscaled: cheap anti-aliasing
_GRID = 16  # background gradients are computed on this grid and upscaled


# --------------------------------------------------------------------------------------------
# Shape outlines: polygons in unit coordinates, centred, circumradius 1.
# --------------------------------------------------------------------------------------------


def _regular(n: int, radius: float = 1.0, phase: float = 0.0) -> np.ndarray:
    t = phase + 2 * math.pi * np.arange(n) / n
    return np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1)


def _star(points: int = 5, inner: float = 0.42) -> np.ndarray:
    outer = _regular(points)
    inn = _regular(points, inner, math.pi / points)
    return np.stack([outer, inn], axis=1).reshape(-1, 2)


def _normalise(poly: np.ndarray) -> np.ndarray:
    """Centre on the bounding box and scale so the farthest point is at radius 1."""
    poly = poly - (poly.min(axis=0) + poly.max(axis=0)) / 2
    return poly / np.hypot(poly[:, 0], poly[:, 1]).max()


def _heart() -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, 72, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return _normalise(np.stack([x, y], axis=1))


_CIRCLE = _regular(64)
_w = 0.32  # half-width of the cross arms
_CROSS = _normalise(
    np.array(
        [
            (_w, 1),
            (_w, _w),
            (1, _w),
            (1, -_w),
            (_w, -_w),
            (_w, -1),
            (-_w, -1),
            (-_w, -_w),
            (-1, -_w),
            (-1, _w),
            (-_w, _w),
            (-_w, 1),
        ],
        dtype=float,
    )
)
_ARROW = _normalise(
    np.array(
        [(-1, -0.2), (0.1, -0.2), (0.1, -0.58), (1, 0), (0.1, 0.58), (0.1, 0.2), (-1, 0.2)],
        dtype=float,
    )
)
_SEMICIRCLE = _normalise(_regular(64)[:33])  # half of a 64-gon: angles 0..pi

# Each shape: list of (polygon, mask value); drawn in order on an "L" mask (255 = shape).
_SHAPES: dict[str, list[tuple[np.ndarray, int]]] = {
    "circle": [(_CIRCLE, 255)],
    "square": [(_regular(4, phase=math.pi / 4), 255)],
    "triangle": [(_regular(3, phase=-math.pi / 2), 255)],
    "star": [(_star(), 255)],
    "pentagon": [(_regular(5, phase=-math.pi / 2), 255)],
    "hexagon": [(_regular(6), 255)],
    "cross": [(_CROSS, 255)],
    "heart": [(_heart(), 255)],
    "arrow": [(_ARROW, 255)],
    "crescent": [(_CIRCLE, 255), (_CIRCLE * 0.82 + np.array([0.42, 0.0]), 0)],
    "ring": [(_CIRCLE, 255), (_CIRCLE * 0.55, 0)],
    "semicircle": [(_SEMICIRCLE, 255)],
}
assert set(_SHAPES) == set(SHAPE_CLASSES)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random RGB colours (0-255 floats); one distribution for every use and class.

    Uniform hue, saturation 0.15-1, value 0.1-1: vivid and dull, dark and light colours alike.
    """
    h, s, v = rng.random((3, n))
    s = 0.15 + 0.85 * s
    v = 0.1 + 0.9 * v
    rgb = [colorsys.hsv_to_rgb(*hsv) for hsv in zip(h, s, v, strict=True)]
    return np.array(rgb, dtype=float).reshape(n, 3) * 255


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def _rgb(c: np.ndarray) -> tuple[int, int, int]:
    return (int(c[0]), int(c[1]), int(c[2]))


def _render(class_index: int, image_size: int, rng: np.random.Generator) -> Image.Image:
    """Draw one image of class ``class_index``; every random choice comes from ``rng``."""
    size = image_size

    # Background: flat colour or a linear gradient between two colours in a random direction,
    # computed on a coarse grid and upscaled bilinearly (the gradient is piecewise linear).
    c0, c1 = _colours(rng, 2)
    if rng.random() < 0.25:
        c1 = c0
    phi = rng.uniform(0, 2 * math.pi)
    direction = np.array([math.cos(phi), math.sin(phi)])
    axis = (np.arange(_GRID) + 0.5) / _GRID - 0.5
    t = np.clip(0.5 + axis[None, :] * direction[0] + axis[:, None] * direction[1], 0, 1)
    coarse = Image.fromarray((c0 + t[..., None] * (c1 - c0) + 0.5).astype(np.uint8), "RGB")
    img = coarse.resize((size, size), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)

    # Clutter: long thin lines, small dots/blobs and a few small thin outlines.
    n_lines, n_dots, n_outlines = (int(v) for v in rng.integers((1, 2, 0), (4, 9, 2)))
    cols = _colours(rng, n_lines + n_dots + n_outlines).astype(int)
    ends = rng.uniform(-0.1, 1.1, (n_lines, 4)) * size
    widths = rng.integers(1, 3, n_lines)
    for i in range(n_lines):
        draw.line(list(ends[i]), fill=_rgb(cols[i]), width=int(widths[i]))
    centres = rng.uniform(0, 1, (n_dots, 2)) * size
    radii = rng.uniform(0.008, 0.045, (n_dots, 2)) * size
    for i in range(n_dots):
        (x, y), (rx, ry) = centres[i], radii[i]
        draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=_rgb(cols[n_lines + i]))
    o_centres = rng.uniform(0.05, 0.95, (n_outlines, 2)) * size
    o_radii = rng.uniform(0.04, 0.09, n_outlines) * size
    o_kinds = rng.integers(3, 8, n_outlines)  # 3..6 = polygon sides, 7 = ellipse
    o_phase = rng.uniform(0, 2 * math.pi, n_outlines)
    for i in range(n_outlines):
        col = _rgb(cols[n_lines + n_dots + i])
        (x, y), r = o_centres[i], o_radii[i]
        if o_kinds[i] == 7:
            draw.ellipse((x - r, y - r, x + r, y + r), outline=col, width=1)
        else:
            pts = _regular(int(o_kinds[i]), r, o_phase[i]) + (x, y)
            draw.polygon([tuple(p) for p in pts], outline=col, width=1)

    # The shape: circumradius 24%-38% of the side (diameter 48-76%), mostly inside the frame.
    radius = rng.uniform(0.24, 0.38) * size
    margin = 0.8 * radius
    centre = rng.uniform(margin, size - margin, 2)
    angle = rng.uniform(0, 2 * math.pi)
    stretch = math.exp(rng.uniform(-0.1, 0.1))
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    transform = np.array([[cos_a, -sin_a], [sin_a, cos_a]]) @ np.diag([stretch, 1 / stretch])
    transform = transform * radius

    # Fill colour: same distribution for all classes, resampled until it stands out from the
    # background under the shape (depends on the background only, never on the class).
    t_c = float(np.clip(0.5 + ((centre - size / 2) / size) @ direction, 0, 1))
    under = c0 + t_c * (c1 - c0)
    candidates = _colours(rng, 32)
    ok = (np.linalg.norm(candidates - under, axis=1) >= 120) & (
        np.abs(_luma(candidates) - _luma(under)) >= 35
    )
    fill = candidates[int(np.argmax(ok))] if ok.any() else 255.0 - under

    # Drawn as a supersampled mask over the shape's bounding box (anti-aliased edges; holes
    # for ring and crescent), then filled through it.
    s = _SUPERSAMPLE
    polys = [
        (poly @ transform.T + centre, value) for poly, value in _SHAPES[SHAPE_CLASSES[class_index]]
    ]
    lo = np.clip(np.floor(polys[0][0].min(axis=0)) - 1, 0, size).astype(int)
    hi = np.clip(np.ceil(polys[0][0].max(axis=0)) + 1, 0, size).astype(int)
    box = (int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
    mask = Image.new("L", ((box[2] - box[0]) * s, (box[3] - box[1]) * s), 0)
    mdraw = ImageDraw.Draw(mask)
    for pts, value in polys:
        mdraw.polygon([tuple(p) for p in (pts - lo) * s], fill=value)
    img.paste(_rgb(fill), box, mask.reduce(s))

    # A few thin lines across everything, so the shape is sometimes partly occluded.
    n_over = int(rng.random() < 0.1)
    over_ends = rng.uniform(0, 1, (n_over, 4)) * size
    over_cols = _colours(rng, n_over)
    for i in range(n_over):
        draw.line(list(over_ends[i]), fill=_rgb(over_cols[i]), width=1)

    # Per-pixel noise (uniform, random strength).
    amp = int(rng.integers(2, 11))
    noise = rng.integers(-amp, amp + 1, (size, size, 3), dtype=np.int16)
    pixels = np.asarray(img, dtype=np.int16) + noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _image_rng(seed: int, split: str, class_index: int, image_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, SPLITS.index(split), class_index, image_index])


# --------------------------------------------------------------------------------------------
# Manifest and on-disk checks
# --------------------------------------------------------------------------------------------


def _folder(class_index: int) -> str:
    return f"{class_index:02d}_{SHAPE_CLASSES[class_index]}"


def _expected_manifest(options: Mapping[str, int]) -> dict[str, Any]:
    k = options["num_classes"]
    classes = [_folder(i) for i in range(k)]
    per_split = {"train": options["train_per_class"], "val": options["val_per_class"]}
    return {
        "format": 1,
        "classes": classes,
        "names": list(SHAPE_CLASSES[:k]),
        "counts": {split: {c: per_split[split] for c in classes} for split in SPLITS},
        "source": SOURCE,
        "generator_version": GENERATOR_VERSION,
        "options": dict(options),
    }


def _read_manifest(root: Path) -> dict[str, Any] | None:
    """The manifest, or None when it is missing or torn (then the folder is rebuilt)."""
    try:
        return read_manifest(root)
    except DataError:
        return None


def _is_complete(root: Path, expected: Mapping[str, Any]) -> bool:
    """True if ``root`` holds a finished build with these exact arguments and all its files."""
    manifest = _read_manifest(root)
    if manifest != expected:
        return False
    return all(
        count_images(root / split, list(per_class)) == per_class
        for split, per_class in expected["counts"].items()
    )


def _is_ours(path: Path) -> bool:
    """True if ``path`` is a folder this generator made (marker or manifest says so)."""
    if (path / MARKER_NAME).is_file():
        return True
    manifest = _read_manifest(path)
    return manifest is not None and manifest.get("source") == SOURCE


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def _build(target: Path, expected: Mapping[str, Any]) -> None:
    """Write every image and then the manifest into the fresh folder ``target``."""
    opts = expected["options"]
    target.mkdir()
    (target / MARKER_NAME).write_text(SOURCE + "\n", encoding="utf-8")
    for split in SPLITS:
        for class_index, cls in enumerate(expected["classes"]):
            folder = target / split / cls
            folder.mkdir(parents=True)
            for i in range(expected["counts"][split][cls]):
                rng = _image_rng(opts["seed"], split, class_index, i)
                img = _render(class_index, opts["image_size"], rng)
                img.save(folder / f"{i:05d}.jpg", "JPEG", quality=JPEG_QUALITY)
    write_manifest(target, expected)


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        v = operator.index(value)
    except TypeError:
        raise ConfigError(f"shapes dataset: {name} must be an integer, got {value!r}") from None
    if v < low or (high is not None and v > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ConfigError(f"shapes dataset: {name} must be {bound}, got {v}")
    return v


def ensure_shapes_dataset(
    root: str | Path,
    *,
    num_classes: int,
    train_per_class: int,
    val_per_class: int,
    image_size: int,
    seed: int,
) -> Path:
    """Build the dataset at root unless an identical complete one is already there; return root.

    No defaults: the values users run with live in conf/data/shapes.yaml (ShapesDataModule).

    Returns the resolved absolute path. A complete dataset with the same arguments is reused
    untouched; a stale, half-written or differently configured one that this generator made is
    replaced. A foreign non-empty folder at ``root`` is never touched: raises ``DataError``.
    Bad arguments raise ``ConfigError``. Safe to call from several processes at once.
    """
    options = {
        "num_classes": _check_int("num_classes", num_classes, 2, len(SHAPE_CLASSES)),
        "train_per_class": _check_int("train_per_class", train_per_class, 1),
        "val_per_class": _check_int("val_per_class", val_per_class, 1),
        "image_size": _check_int("image_size", image_size, 32),
        "seed": _check_int("seed", seed, 0),
    }
    expected = _expected_manifest(options)
    root = Path(root).expanduser().resolve()
    return build_folder_once(
        root,
        lambda r: _is_complete(r, expected),
        lambda partial: _build(partial, expected),
        replaceable=_replaceable,
    )


def _replaceable(root: Path) -> None:
    """Only a folder this generator made (or an empty one) is replaced."""
    if not root.exists():
        return
    if not root.is_dir():
        raise DataError(
            f"Shapes dataset root {root} exists but is not a folder. "
            "Move it away or set another data root."
        )
    if not _is_ours(root):
        if any(root.iterdir()):
            raise DataError(
                f"Shapes dataset root {root} already holds files that the shapes "
                "generator did not make; refusing to overwrite them. Move that folder "
                "away or set another data root."
            )
        root.rmdir()  # an empty folder (e.g. made by hand): nothing to lose
