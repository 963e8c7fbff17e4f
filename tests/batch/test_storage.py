"""Output locations on disk and on a real S3 API server (moto, 127.0.0.1); run/info/export
with an s3:// --out through the real command line."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from helpers import streamseg

from streamseg.errors import UsageError
from streamseg.storage import Location, parse_storage_options
from streamseg.testing.clips import disc_video


def test_storage_options_are_typed_and_nested() -> None:
    options = parse_storage_options(
        ["endpoint_url=http://127.0.0.1:9000", "anon=true", "client_kwargs.region_name=eu", "n=3"]
    )
    assert options == {
        "endpoint_url": "http://127.0.0.1:9000",
        "anon": True,
        "client_kwargs": {"region_name": "eu"},
        "n": 3,
    }
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_storage_options(["novalue"])


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_location_files(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if kind == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("bucket")
        root = Location(f"s3://{bucket}/loc", {"endpoint_url": endpoint})
    else:
        root = Location(str(tmp_path / "loc"))
    f = root.child("x", "t.txt")
    assert f.read_text() is None and not f.exists()
    f.write_text("hello")
    assert f.read_text() == "hello" and f.exists()
    local = tmp_path / "up.bin"
    local.write_bytes(b"\0" * 10)
    root.child("x", "up.bin").upload(local)
    assert root.child("x", "up.bin").exists()
    root.child("x").remove()
    assert not f.exists() and not root.child("x", "up.bin").exists()


def test_run_info_export_with_an_s3_out(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    clip = tmp_path / "d.mp4"
    disc_video(clip, n=20, width=96, height=64)
    url, option = f"s3://{bucket}/single", f"endpoint_url={s3_endpoint}"
    args = ("run", clip, "--model", "classic", "--prompt", "12,32", "--out", url)
    run = streamseg(*args, "--storage-option", option, "-q")
    assert run.returncode == 0, run.stderr
    info = streamseg("info", url, "--storage-option", option, "--json")
    assert info.returncode == 0, info.stderr
    assert '"frames": 20' in info.stdout and '"complete": true' in info.stdout
    again = streamseg(*args, "--storage-option", option, "-q")
    assert again.returncode == 4 and "already holds masks.zarr, overlay.mp4" in again.stderr
    export = streamseg("export", url, "--dest", tmp_path / "png", "--storage-option", option)
    assert export.returncode == 0, export.stderr
    assert len(list((tmp_path / "png").glob("*.png"))) == 20
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint)
    fs.get_file(f"{bucket}/single/overlay.mp4", str(tmp_path / "overlay.mp4"))
    with av.open(str(tmp_path / "overlay.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 20
