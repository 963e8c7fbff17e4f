"""Output locations: a local folder or any fsspec URL (s3://, gs://, az://, memory://, ...).

A ``Location`` is one result folder (what ``--out`` names). Local paths keep the plain
file system; URLs go through fsspec, with credentials from each provider's standard
chain (AWS: environment, ~/.aws, instance/pod role; GCS: application default
credentials; Azure: environment / DefaultAzureCredential through adlfs) plus any
``--storage-option KEY=VALUE`` given (``endpoint_url=http://...``,
``client_kwargs.region_name=eu-west-1``, ``anon=true``).

masks.zarr is written to the store directly (zarr v3 ``FsspecStore``): each chunk and
each ``zarr.json`` is one object PUT, so a reader sees the same valid prefix of frames
as on disk. Files that need a seekable local file (the overlay MP4) are written to a
temporary folder and uploaded when complete (``local_file``).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamseg.errors import OutputError, UsageError


def is_url(text: str | Path) -> bool:
    """True for ``scheme://...`` (file:// included), False for a plain path."""
    return "://" in str(text)


def parse_storage_options(items: Sequence[str]) -> dict[str, Any]:
    """``("endpoint_url=http://h:9000", "client_kwargs.region_name=x", "anon=true")`` ->
    nested dict; values are read as YAML scalars (true, 3, 1.5), else kept as text."""
    import yaml

    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"malformed --storage-option {item!r}: expected KEY=VALUE, "
                "e.g. endpoint_url=http://127.0.0.1:9000"
            )
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            value = text
        if isinstance(value, (dict, list)):  # only scalars: a URL with ':' stays text
            value = text
        node = options
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UsageError(f"--storage-option {item!r} conflicts with an earlier {part}=")
        node[leaf] = value
    return options


@dataclass(frozen=True)
class Location:
    """One folder: ``url`` a local path or an fsspec URL; ``options`` for its filesystem."""

    url: str
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not str(self.url).strip():
            raise UsageError("empty output location; give a folder or a URL like s3://bucket/x")
        if self.options and not is_url(self.url):
            raise UsageError(
                f"--storage-option applies to URLs only, not the local path {self.url}"
            )

    @property
    def local(self) -> bool:
        return not is_url(self.url) or str(self.url).startswith("file://")

    @property
    def path(self) -> Path:
        """The local path (only for a local location)."""
        if not self.local:
            raise OutputError(f"{self.url} is not a local path")
        text = str(self.url)
        return Path(text[len("file://") :] if text.startswith("file://") else text)

    def child(self, *names: str) -> Location:
        if self.local:
            return Location(str(self.path.joinpath(*names)))
        return Location("/".join([str(self.url).rstrip("/"), *names]), self.options)

    def __str__(self) -> str:
        return str(self.url)

    # -- the filesystem -------------------------------------------------------------------

    def fs(self) -> tuple[Any, str]:
        """(fsspec filesystem, path within it)."""
        import fsspec

        try:
            fs, path = fsspec.core.url_to_fs(str(self.url), **self.options)
        except (ImportError, ValueError) as error:
            scheme = str(self.url).split("://", 1)[0]
            raise OutputError(
                f"cannot open {self.url} ({error}); install the fsspec backend for {scheme}:// "
                "(s3fs, gcsfs, adlfs) or check --storage-option"
            ) from error
        return fs, path

    def exists(self) -> bool:
        if self.local:
            return self.path.exists()
        fs, path = self.fs()
        return bool(_io(lambda: fs.exists(path), self))

    def remove(self) -> None:
        """Delete the file or folder (recursively) if it is there."""
        if self.local:
            if self.path.is_dir():
                shutil.rmtree(self.path)
            elif self.path.exists():
                self.path.unlink()
            return
        fs, path = self.fs()
        if _io(lambda: fs.exists(path), self):
            _io(lambda: fs.rm(path, recursive=True), self)
            fs.invalidate_cache()

    def read_text(self) -> str | None:
        """The file's text, or None when it is not there."""
        if self.local:
            return self.path.read_text() if self.path.is_file() else None
        fs, path = self.fs()
        try:
            return str(fs.cat_file(path).decode())
        except FileNotFoundError:
            return None
        except OSError as error:
            raise OutputError(f"cannot read {self.url} ({error})") from error

    def write_text(self, text: str) -> None:
        """Write the whole file at once (an object PUT; on disk, a rename over the old one)."""
        if self.local:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(text)
            tmp.replace(self.path)
            return
        fs, path = self.fs()
        _io(lambda: fs.pipe_file(path, text.encode()), self)

    def upload(self, local: Path) -> None:
        """Copy the local file ``local`` to this location (a URL; local: a move)."""
        if self.local:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(local), self.path)
            return
        fs, path = self.fs()
        _io(lambda: fs.put_file(str(local), path), self)

    def check_writable(self) -> None:
        """Create the folder (local) or probe the bucket with a tiny object (URL)."""
        if self.local:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                probe = self.path / ".streamseg-write-test"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as error:
                raise OutputError(
                    f"cannot write to {self.path} ({error.strerror}); choose another --out"
                ) from error
            return
        marker = self.child(".streamseg-write-test")
        marker.write_text("")
        marker.remove()

    # -- zarr -----------------------------------------------------------------------------

    def zarr_store(self, read_only: bool = False) -> Any:
        """A zarr v3 store rooted here: LocalStore on disk, FsspecStore for a URL."""
        import zarr.storage

        if self.local:
            return zarr.storage.LocalStore(self.path, read_only=read_only)
        try:
            return zarr.storage.FsspecStore.from_url(
                str(self.url), storage_options=dict(self.options), read_only=read_only
            )
        except (ImportError, ValueError, TypeError) as error:
            raise OutputError(f"cannot open {self.url} as a Zarr store ({error})") from error

    @contextlib.contextmanager
    def local_file(self, name: str) -> Iterator[Path]:
        """A local path to write ``name`` into: the file itself for a local location, else a
        temporary file uploaded to ``self/name`` when the block ends without an error."""
        if self.local:
            self.path.mkdir(parents=True, exist_ok=True)
            yield self.path / name
            return
        with tempfile.TemporaryDirectory(prefix="streamseg-upload-") as tmp:
            path = Path(tmp) / name
            yield path
            if path.exists():
                self.child(name).upload(path)


def location(out: str | Path | Location, options: dict[str, Any] | None = None) -> Location:
    """A Location from a --out value (a Location passes through)."""
    if isinstance(out, Location):
        return out
    return Location(str(out), dict(options or {}))


def _io(call: Any, where: Location) -> Any:
    """Run a filesystem call; an OSError (permission, no bucket, network) -> OutputError."""
    try:
        return call()
    except OSError as error:
        raise OutputError(
            f"cannot access {where.url} ({error}); check the URL, its credentials "
            "and --storage-option"
        ) from error
