"""The registry of Meta's official SAM checkpoints, and their download cache.

Checkpoints live in ``cache_dir()``: ``$STREAMSEG_HOME/weights``, else
``$XDG_CACHE_HOME/streamseg/weights``, else ``~/.cache/streamseg/weights``. A
download goes to ``NAME.part`` (resumed with an HTTP Range request after an
interruption), is checked against the published size and SHA-256, and only then
renamed into place (atomically), so a file under its final name is always whole.
A verified file gets a small ``.sha256`` note beside it (size, mtime, digest) so it
is not hashed again on every run. urllib only: no extra dependency.

The SHA-256 values are not published by Meta next to the files; they are the
digests other projects pin for these exact URLs (micro-sam's
``micro_sam/util.py``, 3D Slicer's SegmentWithSAM extension and others agree).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from streamseg.errors import EngineError

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_TIMEOUT = 30.0  # seconds without a byte before a download gives up (it can be resumed)


@dataclass(frozen=True)
class Checkpoint:
    """One official checkpoint: ``arch`` is segment_anything's registry key."""

    name: str
    arch: str
    url: str
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


_BASE = "https://dl.fbaipublicfiles.com/segment_anything/"
REGISTRY: dict[str, Checkpoint] = {
    "sam-vit-b": Checkpoint(
        "sam-vit-b",
        "vit_b",
        _BASE + "sam_vit_b_01ec64.pth",
        375_042_383,
        "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
    ),
    "sam-vit-l": Checkpoint(
        "sam-vit-l",
        "vit_l",
        _BASE + "sam_vit_l_0b3195.pth",
        1_249_524_607,
        "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
    ),
    "sam-vit-h": Checkpoint(
        "sam-vit-h",
        "vit_h",
        _BASE + "sam_vit_h_4b8939.pth",
        2_564_550_879,
        "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
    ),
}


def checkpoint(name: str) -> Checkpoint:
    """The registry entry for ``name`` (sam-vit-b, sam-vit-l, sam-vit-h)."""
    if name not in REGISTRY:
        raise EngineError(
            f"no official weights named {name!r}; choose one of {', '.join(REGISTRY)}"
        )
    return REGISTRY[name]


def cache_dir() -> Path:
    """Where checkpoints are kept (see the module docstring); not created here."""
    home = os.environ.get("STREAMSEG_HOME")
    if home:
        root = Path(home).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "streamseg"
    return root / "weights"


def cached_path(name: str) -> Path:
    """Where ``name``'s checkpoint is (or would be) in the cache."""
    return cache_dir() / checkpoint(name).filename


def is_cached(name: str) -> bool:
    """Whether a file of the right size sits under its final name (no hashing)."""
    path = cached_path(name)
    return path.is_file() and path.stat().st_size == checkpoint(name).size


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _note(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns}"


def file_sha256(path: Path) -> str:
    """SHA-256 of ``path``, from its note when the file has not changed since."""
    note = _note(path)
    with contextlib.suppress(OSError, ValueError):
        stamp, digest = note.read_text().split("\n")[:2]
        if stamp == _stamp(path):
            return digest
    digest = sha256_file(path)
    with contextlib.suppress(OSError):  # a read-only folder: just hash again next time
        note.write_text(f"{_stamp(path)}\n{digest}\n")
    return digest


def verify(path: Path, entry: Checkpoint) -> None:
    """Check size and SHA-256; a mismatching file is deleted and EngineError raised."""
    size = path.stat().st_size
    digest = file_sha256(path) if size == entry.size else None
    if digest == entry.sha256:
        return
    with contextlib.suppress(OSError):
        path.unlink()
    with contextlib.suppress(OSError):
        _note(path).unlink()
    found = f"SHA-256 {digest}" if digest else f"{size} bytes"
    raise EngineError(
        f"checksum mismatch for {entry.filename}: expected SHA-256 {entry.sha256} "
        f"({entry.size} bytes), got {found}; the bad file was deleted from {path.parent}, "
        f"streamseg weights download {entry.name} fetches it anew"
    )


def ensure_weights(name: str, *, download: bool = True, progress: bool = True) -> Path:
    """The verified cached checkpoint of ``name``, downloading it first if need be.

    download: False raises EngineError instead of fetching. progress: a tqdm bar on
    stderr during the download.
    """
    entry = checkpoint(name)
    path = cached_path(name)
    if path.is_file():
        verify(path, entry)
        return path
    if not download:
        raise EngineError(_missing(entry, path, "it is not in the cache"))
    fetch(entry, path, progress=progress)
    return path


def _missing(entry: Checkpoint, path: Path, why: str) -> str:
    return (
        f"cannot get {entry.name} weights from {entry.url} ({why}); download that file "
        f"to {path} (or pass --checkpoint PATH), or use --model classic"
    )


@contextlib.contextmanager
def _locked(handle: IO[bytes]) -> Iterator[None]:
    """An exclusive lock on an open file, where the OS has one, so two runs do not
    append to the same .part file at once."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def fetch(entry: Checkpoint, dest: Path, *, progress: bool = True) -> None:
    """Download ``entry`` to ``dest``: resumable ``.part`` file, verified, renamed."""
    import http.client
    import urllib.error

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise EngineError(
            f"cannot create the weights cache {dest.parent} ({error.strerror}); "
            "set STREAMSEG_HOME to a writable folder"
        ) from error
    part = dest.with_name(dest.name + ".part")
    try:
        with open(part, "ab") as handle, _locked(handle):
            if dest.is_file():  # another run finished it while we waited for the lock
                return
            try:
                _download(entry, part, handle, progress)
            except BaseException:
                with contextlib.suppress(OSError):  # never hide the error being raised
                    if part.stat().st_size == 0:  # nothing came: no empty .part left behind
                        part.unlink()
                raise
            verify(part, entry)
            digest = file_sha256(part)
            os.replace(part, dest)  # atomic: the final name only ever holds a verified file
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or error
        raise EngineError(_missing(entry, dest, f"{reason}")) from error
    with contextlib.suppress(OSError):
        _note(part).unlink()
    with contextlib.suppress(OSError):
        _note(dest).write_text(f"{_stamp(dest)}\n{digest}\n")
    log.info("downloaded %s to %s", entry.name, dest)


def _check_response(entry: Checkpoint, response: Any, have: int) -> None:
    """Refuse a response that is not the rest of this file (a proxy's HTML page, say)
    before a byte of it lands in the .part file."""
    length = response.headers.get("Content-Length")
    if response.status == 206:
        span = response.headers.get("Content-Range", "")  # "bytes START-END/TOTAL"
        ok = span.startswith(f"bytes {have}-") and span.endswith(f"/{entry.size}")
    else:
        ok = length is None or int(length) == entry.size
    if not ok:
        raise EngineError(
            f"{entry.url} answered with something else than the {entry.size}-byte checkpoint "
            f"(status {response.status}, length {length}); download it by hand into "
            f"{cache_dir()} or pass --checkpoint PATH, or use --model classic"
        )


def _download(entry: Checkpoint, part: Path, handle: IO[bytes], progress: bool) -> None:
    """Append the missing bytes of ``entry`` to the open ``part`` file."""
    import urllib.error
    import urllib.request

    from tqdm import tqdm

    have = part.stat().st_size
    if have > entry.size:  # not a prefix of this file: start over
        handle.truncate(0)
        have = 0
    if have == entry.size:
        return
    request = urllib.request.Request(entry.url, headers={"User-Agent": "streamseg"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response: Any = urllib.request.urlopen(request, timeout=_TIMEOUT)  # noqa: S310
    except urllib.error.HTTPError as error:
        if error.code != 416:  # 416: the .part is not a prefix of a file this long
            raise
        handle.truncate(0)
        have = 0
        request.remove_header("Range")
        response = urllib.request.urlopen(request, timeout=_TIMEOUT)  # noqa: S310
    with response:
        if have and response.status != 206:  # the server ignored Range: whole file again
            log.info("%s: server cannot resume; downloading from the start", entry.url)
            handle.truncate(0)
            have = 0
        _check_response(entry, response, have)
        handle.seek(have)
        with tqdm(
            total=entry.size,
            initial=have,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=entry.filename,
            file=sys.stderr,
            disable=not progress,
            leave=False,
        ) as bar:
            while have < entry.size and (block := response.read(min(_CHUNK, entry.size - have))):
                handle.write(block)
                have += len(block)
                bar.update(len(block))
        handle.flush()
        os.fsync(handle.fileno())
    got = part.stat().st_size
    if got < entry.size:  # the connection ended early: keep the .part to resume from
        raise EngineError(
            f"download of {entry.url} stopped at {got} of {entry.size} bytes; "
            "run again to resume it"
        )


def list_weights() -> list[dict[str, Any]]:
    """One row per registry entry, for ``streamseg weights list``: name, arch, url,
    size, sha256, path, cached (a file of the right size is in the cache)."""
    return [
        {
            "name": e.name,
            "arch": e.arch,
            "url": e.url,
            "size": e.size,
            "sha256": e.sha256,
            "path": str(cached_path(e.name)),
            "cached": is_cached(e.name),
        }
        for e in REGISTRY.values()
    ]
