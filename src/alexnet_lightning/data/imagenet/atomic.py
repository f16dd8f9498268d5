"""Write files so that a crash never leaves a half-written file under its final name.

Everything is first written to a hidden temp name in the target folder, then renamed into place
(os.replace is atomic within one filesystem). A rerun can therefore trust any file that exists
under its final name and delete leftover temp files.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def temp_path_for(final: Path) -> Path:
    """A unique hidden sibling of `final`; unique so parallel writers never collide."""
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}")


def is_temp_file(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = temp_path_for(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temps(folder: Path) -> int:
    """Delete leftover temp files in `folder` (not recursive); returns how many."""
    removed = 0
    if folder.is_dir():
        for entry in folder.iterdir():
            if is_temp_file(entry) and entry.is_file():
                entry.unlink(missing_ok=True)
                removed += 1
    return removed
