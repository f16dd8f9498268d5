"""Imagenette/Imagewoof download: resume, size and checksum checks, safe extraction, manifest.

Everything is served from 127.0.0.1 or file:// URLs; nothing touches the internet.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from alexnet_lightning.data.manifest import load_manifest
from alexnet_lightning.dataset_tools.imagenet import download as download_module
from alexnet_lightning.dataset_tools.imagenet import imagenet_names
from alexnet_lightning.dataset_tools.imagenet.download import Checksum, download_imagenette
from alexnet_lightning.dataset_tools.imagenet.extract import safe_extract
from alexnet_lightning.errors import ConfigError, DataError
from tests.conftest import ROOT

REPO = ROOT
SCRIPT = REPO / "scripts" / "download_imagenette.py"
WNIDS = ["n01440764", "n02102040", "n03888257"]
NAME = "imagenette2-160.tgz"


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (seed * 40 % 256, 90, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


def make_tarball(top: str = "imagenette2-160", extra: list[tarfile.TarInfo] = ()) -> bytes:
    """A small imagenette2-160 look-alike: train 3 + val 2 images for each of 3 wnids."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        top_dir = tarfile.TarInfo(top)
        top_dir.type = tarfile.DIRTYPE
        tar.addfile(top_dir)
        for split, count in (("train", 3), ("val", 2)):
            for c, wnid in enumerate(WNIDS):
                for i in range(count):
                    add(f"{top}/{split}/{wnid}/{wnid}_{i}.JPEG", _jpeg(c * 10 + i))
        add(f"{top}/noisy_imagenette.csv", b"path,noisy_labels_0,is_valid\n")
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buffer.getvalue()


TARBALL = make_tarball()
MD5 = hashlib.md5(TARBALL).hexdigest()


class Handler(BaseHTTPRequestHandler):
    """Serves server.files; server.mode: "range" honours Range, "plain" ignores it, "short"
    announces the full length but hangs up halfway."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        wanted = self.headers.get("Range")
        if server.mode == "range" and wanted:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            body = body[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if server.mode == "short" else body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.files = {f"/{NAME}": TARBALL}
    httpd.mode = "range"
    httpd.requests = []
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def fetch(server: ThreadingHTTPServer, dest: Path, **kwargs) -> Path:
    kwargs.setdefault("md5", MD5)
    return download_imagenette(
        "imagenette", "160", dest, url=server.base + NAME, progress=False, **kwargs
    )


def check_dataset(root: Path, source: str) -> None:
    assert root.name == "imagenette2-160"
    manifest = load_manifest(root)
    assert manifest is not None
    assert manifest["classes"] == WNIDS
    assert manifest["names"] == [imagenet_names()[w] for w in WNIDS]
    assert manifest["counts"] == {"train": dict.fromkeys(WNIDS, 3), "val": dict.fromkeys(WNIDS, 2)}
    assert manifest["source"] == source
    assert (root / "noisy_imagenette.csv").is_file()
    assert not list(root.parent.glob(".*extracting"))


def test_download_over_http(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    root = fetch(server, tmp_path)
    check_dataset(root, server.base + NAME)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imagenette2-160"]  # archive removed
    # A rerun finds the finished folder and downloads nothing.
    count = len(server.requests)
    assert fetch(server, tmp_path) == root
    assert len(server.requests) == count


def test_partial_download_resumes_with_range(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    (tmp_path / f"{NAME}.part").write_bytes(TARBALL[:1000])
    check_dataset(fetch(server, tmp_path, keep_archive=True), server.base + NAME)
    assert server.requests == [(f"/{NAME}", "bytes=1000-")]
    assert (tmp_path / NAME).read_bytes() == TARBALL


def test_complete_part_file_is_accepted_on_416(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    (tmp_path / f"{NAME}.part").write_bytes(TARBALL)
    check_dataset(fetch(server, tmp_path), server.base + NAME)
    assert server.requests == [(f"/{NAME}", f"bytes={len(TARBALL)}-")]


def test_server_ignoring_range_restarts_cleanly(
    server: ThreadingHTTPServer, tmp_path: Path
) -> None:
    server.mode = "plain"
    (tmp_path / f"{NAME}.part").write_bytes(b"stale bytes that must not be kept" * 30)
    check_dataset(fetch(server, tmp_path), server.base + NAME)


def test_broken_transfer_keeps_part_and_resumes(
    server: ThreadingHTTPServer, tmp_path: Path
) -> None:
    server.mode = "short"
    with pytest.raises(DataError, match="run the same command again to resume"):
        fetch(server, tmp_path)
    part = tmp_path / f"{NAME}.part"
    assert 0 < part.stat().st_size < len(TARBALL)
    assert not (tmp_path / "imagenette2-160").exists()
    server.mode = "range"
    check_dataset(fetch(server, tmp_path), server.base + NAME)
    assert server.requests[-1] == (f"/{NAME}", f"bytes={len(TARBALL) // 2}-")


def test_bad_checksum_is_rejected_and_deleted(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"corrupt \(md5 .*expected 0{32}"):
        fetch(server, tmp_path, md5="0" * 32)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataError, match="sha256"):
        fetch(server, tmp_path, sha256="f" * 64)
    assert list(tmp_path.iterdir()) == []


def test_builtin_checksums_apply_to_the_default_url(
    server: ThreadingHTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download_module, "BASE_URL", server.base)
    monkeypatch.setitem(download_module.KNOWN_CHECKSUMS, NAME, Checksum(size=len(TARBALL) + 1))
    with pytest.raises(DataError, match=rf"size {len(TARBALL)}, expected {len(TARBALL) + 1}"):
        download_imagenette("imagenette", "160", tmp_path, progress=False)
    head = hashlib.md5(TARBALL[: 1 << 20]).hexdigest()
    monkeypatch.setitem(
        download_module.KNOWN_CHECKSUMS, NAME, Checksum(md5=MD5, size=len(TARBALL), head_md5=head)
    )
    root = download_imagenette("imagenette", "160", tmp_path, progress=False)
    check_dataset(root, server.base + NAME)


def test_shipped_checksum_table_covers_every_archive() -> None:
    names = {
        download_module.archive_name(d, s)
        for d in download_module.DATASETS
        for s in download_module.SIZES
    }
    assert names == set(download_module.KNOWN_CHECKSUMS)
    with pytest.raises(ConfigError, match="--dataset"):
        download_module.archive_name("imagenet", "160")
    with pytest.raises(ConfigError, match="--size"):
        download_module.archive_name("imagewoof", "224")


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, 4 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    "member",
    [
        _member("../evil.txt"),
        _member("imagenette2-160/../../evil.txt"),
        _member("imagenette2-160/evil-link", tarfile.SYMTYPE, "../../evil.txt"),
        _member("imagenette2-160/abs-link", tarfile.SYMTYPE, "/etc/passwd"),
        _member("imagenette2-160/hard", tarfile.LNKTYPE, "../evil.txt"),
    ],
    ids=lambda m: m.name,
)
def test_escaping_members_are_refused(tmp_path: Path, member: tarfile.TarInfo) -> None:
    archive = tmp_path / "serve" / NAME
    archive.parent.mkdir()
    archive.write_bytes(make_tarball(extra=[member]))
    dest = tmp_path / "dest"
    before = sorted(p for p in tmp_path.rglob("*") if dest not in p.parents)
    with pytest.raises(DataError, match=rf"member '{member.name}' is unsafe"):
        download_imagenette("imagenette", "160", dest, url=archive.as_uri(), progress=False)
    after = sorted(p for p in tmp_path.rglob("*") if dest not in p.parents and p != dest)
    assert after == before
    assert not Path("/tmp/alexnet-lightning-evil.txt").exists()
    # The checked archive stays for inspection; nothing was extracted.
    assert sorted(p.name for p in dest.iterdir()) == [NAME]


def test_an_absolute_member_lands_inside_the_target(tmp_path: Path) -> None:
    # tarfile's data filter strips the leading "/" (as GNU tar does) rather than refusing it
    archive = tmp_path / NAME
    archive.write_bytes(make_tarball(extra=[_member("/tmp/alexnet-lightning-evil.txt")]))
    safe_extract(archive, tmp_path / "dest")
    assert not Path("/tmp/alexnet-lightning-evil.txt").exists()
    assert (tmp_path / "dest" / "tmp" / "alexnet-lightning-evil.txt").read_bytes() == b"xxxx"


def test_file_url(tmp_path: Path) -> None:
    archive = tmp_path / NAME
    archive.write_bytes(TARBALL)
    root = download_imagenette(
        "imagenette", "160", tmp_path / "data", url=archive.as_uri(), md5=MD5, progress=False
    )
    check_dataset(root, archive.as_uri())


def test_archive_without_train_val_is_rejected(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.addfile(_member("something/readme.txt"), io.BytesIO(b"text"))
    (tmp_path / NAME).write_bytes(buffer.getvalue())
    with pytest.raises(DataError, match="no train/ folder"):
        download_imagenette(
            "imagenette", "160", tmp_path / "d", url=(tmp_path / NAME).as_uri(), progress=False
        )
    assert not (tmp_path / "d" / "imagenette2-160").exists()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_cli_help_run_and_error(tmp_path: Path) -> None:
    helped = run_cli("--help")
    assert helped.returncode == 0 and "--dataset" in helped.stdout and "--url" in helped.stdout

    archive = tmp_path / NAME
    archive.write_bytes(TARBALL)
    args = ["--dataset", "imagenette", "--size", "160", "--dest", str(tmp_path / "data")]
    done = run_cli(*args, "--url", archive.as_uri(), "--md5", MD5, "--no-progress")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(tmp_path / "data" / "imagenette2-160")

    failed = run_cli(*args[:-1], str(tmp_path / "other"), "--url", (tmp_path / "no.tgz").as_uri())
    assert failed.returncode == 2
    assert failed.stderr.startswith("error: cannot download") and "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
