"""Resumable download of one URL into a `.part` file, and checksum verification.

A rerun continues an interrupted `.part` with an HTTP Range request; a server that ignores
Range (answers 200) gets the download restarted from byte 0, never appended to the old bytes.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import urllib.error
import urllib.request
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from alexnet_lightning.errors import DataError

CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+|\*)(?:-(\d+))?/(\d+|\*)")


def part_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) from `bytes 100-199/1000` or `bytes */1000`."""
    match = _CONTENT_RANGE.match(header or "")
    if not match:
        return None, None
    first, _, total = match.groups()
    return (
        int(first) if first != "*" else None,
        int(total) if total != "*" else None,
    )


def _open(url: str, start: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": "alexnet-lightning"}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def fetch(url: str, target: Path, *, progress: bool = True, timeout: float = 60.0) -> int | None:
    """Download `url` into `part_path(target)`, resuming it if present.

    Returns the size the server announced (None if it gave none); raises DataError when the
    transfer breaks off (the .part is kept for the next run) or the size is wrong.
    """
    part = part_path(target)
    have = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, have, timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:
            # Nothing left after `have`: the .part is complete if the total agrees.
            _, total = _content_range(err.headers.get("Content-Range"))
            if total == have:
                return total
            part.unlink()
            return fetch(url, target, progress=progress, timeout=timeout)
        raise DataError(f"download of {url} failed: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise DataError(f"cannot download {url}: {reason}; check the URL or network") from err

    with response:
        status = getattr(response, "status", None)
        first, total = _content_range(response.headers.get("Content-Range"))
        if have and status == 206 and first == have:
            mode = "ab"
        else:
            # A full body (200, or a file:// URL): the old bytes cannot be trusted to line up.
            have, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        columns = (
            TextColumn(target.name),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, disable=not progress) as bar, part.open(mode) as out:
            task = bar.add_task("download", total=total, completed=have)
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    bar.advance(task, len(chunk))
            except (OSError, http.client.HTTPException) as err:
                out.flush()
                raise DataError(
                    f"download of {url} broke off after {out.tell()} bytes ({err!r}); "
                    "run the same command again to resume"
                ) from err

    size = part.stat().st_size
    if total is not None and size != total:
        if size < total:
            raise DataError(
                f"download of {url} stopped at {size} of {total} bytes; "
                "run the same command again to resume"
            )
        part.unlink()
        raise DataError(f"download of {url} gave {size} bytes, more than the {total} announced")
    return total


def file_digest(path: Path, algorithm: str, limit: int | None = None) -> str:
    """Hex digest of the file, or of its first `limit` bytes."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    remaining = limit
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK if remaining is None else min(CHUNK, remaining)):
            digest.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
                if remaining <= 0:
                    break
    return digest.hexdigest()
