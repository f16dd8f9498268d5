"""Extract a tar archive without letting any member land outside the target folder."""

from __future__ import annotations

import tarfile
from pathlib import Path

from alexnet_lightning.errors import DataError


def safe_extract(archive: Path, target: Path) -> None:
    """Extract `archive` into `target`; a single unsafe member refuses the whole archive.

    tarfile's "data" filter (Python 3.12+, backported to 3.10.12/3.11.4) does the checking:
    paths and links that leave the target, device files, odd permissions. Every member goes
    through it before anything is written, so a bad member refuses the archive whole instead
    of leaving it half extracted, and the error names that member.
    """
    if not hasattr(tarfile, "data_filter"):
        raise DataError(
            f"cannot extract {archive} safely: this Python's tarfile has no extraction filters; "
            "use Python 3.10.12, 3.11.4, 3.12 or newer"
        )
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                try:
                    tarfile.data_filter(member, str(target))
                except tarfile.FilterError as err:
                    raise DataError(
                        f"refusing to extract {archive}: member {member.name!r} is unsafe "
                        f"({err}); the archive is corrupt or malicious, delete it"
                    ) from None
            target.mkdir(parents=True, exist_ok=True)
            tar.extractall(target, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DataError(
            f"cannot extract {archive}: {err}; delete it and download it again"
        ) from err
