"""`streamseg batch` end to end: a real Ray cluster (2 workers) writing to a real S3 API
server (moto) on 127.0.0.1, the stores read back from S3 with zarr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import CLI

from streamseg.testing.clips import disc_video, iou

W, H = 96, 64
PROMPT = "12,32"  # the disc's centre on frame 0 at 96x64 (radius 10, x = radius + 2)


def _fs(endpoint: str):  # noqa: ANN202 - s3fs is imported lazily
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=endpoint)


def _open(endpoint: str, url: str):  # noqa: ANN202
    import zarr
    from zarr.storage import FsspecStore

    store = FsspecStore.from_url(url, storage_options={"endpoint_url": endpoint}, read_only=True)
    return zarr.open_group(store=store, mode="r")


def _table(endpoint: str, root: str) -> dict[str, dict]:
    text = _fs(endpoint).cat_file(f"{root}/batch.jsonl").decode()
    rows = [json.loads(line) for line in text.splitlines()]
    return {r["recording"]: r for r in rows}


def _batch(address: str, endpoint: str, *args: object, background: bool = False):  # noqa: ANN202
    cmd = [
        *CLI,
        "batch",
        "--address",
        address,
        "--workers",
        "2",
        "--model",
        "classic",
        "--storage-option",
        f"endpoint_url={endpoint}",
        "-q",
        *map(str, args),
    ]
    if background:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def _check_store(endpoint: str, url: str, truth: list[np.ndarray]) -> None:
    """Complete, every frame once in order, masks matching the true disc."""
    group = _open(endpoint, url)
    n = len(truth)
    assert group.attrs["complete"] is True
    assert group.attrs["frames_written"] == n
    assert group["masks"].shape == (n, 1, H, W)
    assert group["frame_index"][:].tolist() == list(range(n))
    masks = group["masks"][:, 0]
    ious = [iou(m, t) for m, t in zip(masks, truth)]
    assert np.mean(ious) > 0.8, ious


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[np.ndarray]]]:
    """Five short disc clips of different lengths and one corrupt file, with a CSV manifest."""
    folder = tmp_path_factory.mktemp("batch-clips")
    truth = {}
    for k, n in enumerate((12, 16, 20, 24, 28)):
        truth[f"clip{k}"] = disc_video(folder / f"clip{k}.mp4", n=n, width=W, height=H)
    good = (folder / "clip0.mp4").read_bytes()
    (folder / "broken.mp4").write_bytes(good[:200] + bytes(range(256)) * 8)  # corrupt
    rows = ["source,name,prompt"] + [f'{name}.mp4,{name},"{PROMPT}"' for name in truth]
    rows.append(f'broken.mp4,broken,"{PROMPT}"')
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return folder, truth


def test_six_clips_one_corrupt_to_s3_then_resume(
    clips: tuple[Path, dict], ray_address: str, s3_endpoint: str, bucket: str
) -> None:
    folder, truth = clips
    root = f"{bucket}/six"
    first = _batch(
        ray_address, s3_endpoint, "--manifest", folder / "manifest.csv", "--out", f"s3://{root}"
    )
    assert first.returncode == 1, first.stderr
    assert "1 of 6 recordings failed (broken)" in first.stderr
    table = _table(s3_endpoint, root)
    assert sorted(table) == sorted([*truth, "broken"])
    assert table["broken"]["status"] == "failed"
    assert table["broken"]["error"].startswith("SourceError")
    for name, masks in truth.items():
        row = table[name]
        assert row["status"] == "done" and row["frames"] == len(masks) and row["objects"] == 1
        _check_store(s3_endpoint, f"s3://{root}/{name}/masks.zarr", masks)
        assert _fs(s3_endpoint).size(f"{root}/{name}/overlay.mp4") > 1000  # uploaded at the end
    # Engines load once per worker: 2 processes ran all 6, so some process ran several.
    workers = [r["worker"] for r in table.values()]
    assert len({w["pid"] for w in workers}) <= 2
    assert max(w["job"] for w in workers) >= 3
    created = {n: _open(s3_endpoint, f"s3://{root}/{n}/masks.zarr").attrs["created"] for n in truth}
    markers = {n: _fs(s3_endpoint).info(f"{root}/{n}/batch.json")["LastModified"] for n in truth}

    second = _batch(
        ray_address, s3_endpoint, "--manifest", folder / "manifest.csv", "--out", f"s3://{root}"
    )
    assert second.returncode == 1, second.stderr
    table = _table(s3_endpoint, root)
    assert {n: table[n]["status"] for n in truth} == {n: "skipped" for n in truth}
    assert table["broken"]["status"] == "failed"  # a failed recording is tried again
    fs = _fs(s3_endpoint)
    fs.invalidate_cache()
    for n in truth:  # nothing complete was rewritten
        assert _open(s3_endpoint, f"s3://{root}/{n}/masks.zarr").attrs["created"] == created[n]
        assert fs.info(f"{root}/{n}/batch.json")["LastModified"] == markers[n]

    # A changed setting (clip1 limited to 5 frames) redoes that recording only.
    manifest = folder / "manifest-changed.jsonl"
    lines = [{"source": f"{n}.mp4", "name": n, "prompt": [PROMPT]} for n in truth]
    lines[1]["max_frames"] = 5
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    third = _batch(ray_address, s3_endpoint, "--manifest", manifest, "--out", f"s3://{root}")
    assert third.returncode == 0, third.stderr
    table = _table(s3_endpoint, root)
    assert table["clip1"]["status"] == "done" and table["clip1"]["frames"] == 5
    assert [table[n]["status"] for n in truth if n != "clip1"] == ["skipped"] * 4
    _check_store(s3_endpoint, f"s3://{root}/clip1/masks.zarr", truth["clip1"][:5])


def _holder(path: Path) -> int | None:
    """The pid of a Ray worker process that has ``path`` open (the job decoding it)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "cmdline").read_bytes().startswith(b"ray::"):
                continue
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) == str(path):
                    return int(entry.name)
        except OSError:  # gone, or not ours to read
            continue
    return None


def test_worker_killed_mid_job_is_retried_and_rewritten(
    tmp_path: Path, ray_address: str, s3_endpoint: str, bucket: str
) -> None:
    truth = {"long": disc_video(tmp_path / "long.mp4", n=480, width=W, height=H)}
    for k in range(2):
        truth[f"short{k}"] = disc_video(tmp_path / f"short{k}.mp4", n=16, width=W, height=H)
    manifest = tmp_path / "m.csv"
    manifest.write_text("source,prompt\n" + "".join(f'{n}.mp4,"{PROMPT}"\n' for n in truth))
    root = f"{bucket}/killed"
    proc = _batch(
        ray_address, s3_endpoint, "--manifest", manifest, "--out", f"s3://{root}", background=True
    )
    fs = _fs(s3_endpoint)
    killed = None
    deadline = time.monotonic() + 300
    try:
        while killed is None and time.monotonic() < deadline and proc.poll() is None:
            pid = _holder((tmp_path / "long.mp4").resolve())
            fs.invalidate_cache()
            head = f"{root}/long/masks.zarr/zarr.json"
            written = fs.exists(head) and json.loads(fs.cat_file(head))["attributes"].get(
                "frames_written", 0
            )
            if pid is not None and written:  # mid-job: some chunks are on S3 already
                os.kill(pid, signal.SIGKILL)
                killed = pid
            time.sleep(0.05)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed is not None, "the long job ended before the test could kill its worker"
    assert proc.returncode == 0, err
    row = _table(s3_endpoint, root)["long"]
    assert row["status"] == "done" and row["frames"] == 480
    assert row["worker"]["restarted"] is True and row["worker"]["pid"] != killed
    assert row["replaced_partial"] is True  # the first attempt's half store was rewritten
    for name, masks in truth.items():
        _check_store(s3_endpoint, f"s3://{root}/{name}/masks.zarr", masks)
