"""Extract a tar archive without letting any member land outside the target folder."""

from __future__ import annotations

import posixpath
import tarfile
from pathlib import Path

from alexnet_lightning.errors import DataError


def _escapes(path: str) -> bool:
    """True if a tar path (relative to the target) is absolute or climbs out with `..`."""
    if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        return True
    normal = posixpath.normpath(path.replace("\\", "/"))
    return normal == ".." or normal.startswith("../")


def check_member(member: tarfile.TarInfo) -> str | None:
    """Why `member` may not be extracted, or None if it is safe."""
    if _escapes(member.name):
        return "its path leaves the target folder"
    if member.issym():
        # A symlink's target is relative to the folder the link sits in.
        where = posixpath.join(posixpath.dirname(member.name), member.linkname)
        if member.linkname.startswith("/") or _escapes(where):
            return f"it links to {member.linkname!r}, outside the target folder"
    if member.islnk() and _escapes(member.linkname):
        return f"it hard-links to {member.linkname!r}, outside the target folder"
    if member.isdev():
        return "it is a device or fifo"
    return None


def safe_extract(archive: Path, target: Path) -> None:
    """Extract `archive` into `target`; a single unsafe member refuses the whole archive.

    Our own check runs first so the error names the member; tarfile's "data" filter (Python
    3.12+, backported to 3.10.12/3.11.4) then also guards against anything we missed.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                reason = check_member(member)
                if reason:
                    raise DataError(
                        f"refusing to extract {archive}: member {member.name!r} is unsafe "
                        f"({reason}); the archive is corrupt or malicious, delete it"
                    )
            target.mkdir(parents=True, exist_ok=True)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(target, members=members, filter="data")
            else:
                tar.extractall(target, members=members)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DataError(
            f"cannot extract {archive}: {err}; delete it and download it again"
        ) from err
