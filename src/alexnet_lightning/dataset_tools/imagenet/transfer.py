"""Put one source image into the subset: copy, link, or decode + resize + re-encode as JPEG.

Runs in worker processes, so it only takes and returns plain strings and never logs itself.
Every output is written atomically (``files.replacing``).
"""

from __future__ import annotations

import errno
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from alexnet_lightning.files import replacing

# Outcome of one job.
DONE, EXISTS, SKIPPED = "done", "exists", "skipped"
# Hard links fail with these across filesystems or on filesystems without them.
_NO_HARD_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


@dataclass(frozen=True)
class TransferOptions:
    resize: int | None = None  # shorter side in pixels; None keeps the file as it is
    quality: int = 90
    link: bool = False


def output_name(source_name: str, options: TransferOptions) -> str:
    """Re-encoded files are JPEG whatever they were (ImageNet has PNG and CMYK files)."""
    return f"{Path(source_name).stem}.JPEG" if options.resize else source_name


def resized_size(width: int, height: int, shorter: int) -> tuple[int, int]:
    """Scale so the shorter side is `shorter`, keeping the aspect ratio; never upscale."""
    small = min(width, height)
    if small <= shorter:
        return width, height
    scale = shorter / small
    if width <= height:
        return shorter, max(1, round(height * scale))
    return max(1, round(width * scale)), shorter


def check_decodes(source: Path) -> None:
    """Raise if the image cannot be decoded to the end.

    draft() lets libjpeg decode at 1/8 scale: it still reads all the compressed data, so
    truncated files fail, but it costs a fraction of a full decode.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(source) as image:
            image.draft(None, (1, 1))
            image.load()


def load_resized(source: Path, shorter: int) -> Image.Image:
    """Decode, convert to RGB and shrink the shorter side to `shorter` (never upscale)."""
    with warnings.catch_warnings():
        # Palette-with-transparency and similar warnings are expected on web images.
        warnings.simplefilter("ignore")
        with Image.open(source) as image:
            size = resized_size(*image.size, shorter)
            # Let libjpeg pre-shrink by 1/2, 1/4 or 1/8 while staying >= the target size.
            image.draft(None, size)
            # No exif_transpose: ImageNet is used raw, as the original benchmark did.
            rgb = image.convert("RGB")
    return rgb if rgb.size == size else rgb.resize(size, Image.Resampling.LANCZOS)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as err:
        if err.errno not in _NO_HARD_LINK:
            raise
        os.symlink(source.resolve(), target)


def transfer(source: str, target: str, options: TransferOptions) -> tuple[str, str]:
    """Produce `target` from `source`; returns (outcome, message).

    An image that cannot be decoded is SKIPPED; a failure to write raises (disk full,
    permissions), since every later image would fail the same way.
    """
    src, dst = Path(source), Path(target)
    if dst.exists():
        return EXISTS, ""
    try:
        image = load_resized(src, options.resize) if options.resize else None
        if image is None:
            check_decodes(src)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        # PIL raises OSError for truncated or unknown files, SyntaxError/ValueError for some
        # malformed headers; a missing file is an OSError too.
        return SKIPPED, f"{type(err).__name__}: {err}"
    with replacing(dst) as tmp:
        if image is not None:
            image.save(tmp, "JPEG", quality=options.quality)
        elif options.link:
            _link(src, tmp)
        else:
            shutil.copyfile(src, tmp)
    return DONE, ""


def transfer_batch(jobs: list[tuple[str, str]], options: TransferOptions) -> list[tuple[str, str]]:
    """Batches keep inter-process traffic low: one round trip per batch, not per image."""
    return [transfer(source, target, options) for source, target in jobs]
