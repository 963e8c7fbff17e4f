"""Hostile runs: kill -9, signals whatever the run waits on, full disks, network drops, pipes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
from harness import (
    CLI,
    COMMON,
    ENV,
    SIGHUP,
    SIGINT,
    SIGKILL,
    SIGTERM,
    Bad,
    case,
    clean_exit,
    cli,
    clip,
    decodable,
    error_line,
    expect_frames,
    frames_written,
    no_traceback,
    signal_and_wait,
    store,
    video_frames,
    wait_for,
)
from serve import serve_bytes

from streamseg.sinks.outputs import ZARR_QUEUE

LONG = 1800  # frames of the long clip (75 s; ~35 s of work at 50 frames/s): no run ends it


def long_clip(work: Path) -> Path:
    return clip(work, "long.mp4", n=LONG, width=320, height=240)


def long_run(work: Path, *extra: object, quiet: bool = True) -> subprocess.Popen:
    args = ["run", long_clip(work), *COMMON, "--prompt", "40,120", "--out", work / "o", *extra]
    return subprocess.Popen(
        [*CLI, *map(str, args), *(["-q"] if quiet else [])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=ENV,
    )


def interrupted(work: Path, signals: list[int], gap: float = 0.0) -> None:
    """Signal a run once frames flow; it ends within 2 s, 130, outputs valid and agreeing."""
    proc = long_run(work)
    wait_for(lambda: frames_written(work / "o") >= 10, 60, "10 frames written")
    r = signal_and_wait(proc, signals, gap)
    no_traceback(r)
    if r.returncode != 130:
        raise Bad("wrong", f"exit {r.returncode} after {signals}: {r.stderr[-200:]}")
    lines = r.stderr.strip().splitlines()
    if len(lines) != 1 or "interrupted" not in lines[0]:
        raise Bad("wrong", f"not one 'interrupted' line: {r.stderr[-300:]}")
    saved = "saved" in lines[0]
    g = store(work / "o", strict=saved)
    n = g.attrs["frames_written"]
    if g.attrs["complete"] is not False or n < 10:
        raise Bad("wrong", f"complete {g.attrs['complete']}, {n} frames")
    shown = video_frames(work / "o" / "overlay.mp4")
    if saved and shown != n:  # it said the frames are saved: all of them, in every output
        raise Bad("lost", f"said saved, but overlay.mp4 has {shown} frames, the masks {n}")


@case
def sigterm_mid_run(work: Path) -> None:
    interrupted(work, [SIGTERM])


@case
def sighup_mid_run(work: Path) -> None:
    interrupted(work, [SIGHUP])


@case
def double_ctrl_c(work: Path) -> None:
    interrupted(work, [SIGINT, SIGINT], gap=0.3)


@case
def kill_9_mid_run(work: Path) -> None:
    proc = long_run(work, quiet=False)
    seen: list[tuple[float, int]] = []

    def read() -> None:  # the progress bar: what the run has reported done, and when
        assert proc.stderr is not None
        for chunk in iter(lambda: proc.stderr.read1(4096), b""):
            for count in re.findall(rb"(\d+)/%d" % LONG, chunk):
                seen.append((time.monotonic(), int(count)))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    wait_for(lambda: bool(seen) and seen[-1][1] >= 60, 90, "60 frames reported done")
    proc.send_signal(SIGKILL)
    proc.wait()
    reader.join(5)
    (t1, done), (t0, first) = seen[-1], seen[0]
    rate = (done - first) / max(t1 - t0, 1e-3)  # frames per second the run made
    g = store(work / "o", strict=False)
    n = g.attrs["frames_written"]
    # What a kill may lose: the results queued for the store (ZARR_QUEUE), the buffer
    # (written once it is a second old) and the write in flight (up to a second more
    # on a loaded machine).
    allowed = ZARR_QUEUE + 2.0 * rate
    if done - n > allowed:
        raise Bad("lost", f"masks {n} frames, {done} reported done ({rate:.0f} frames/s)")
    shown = video_frames(work / "o" / "overlay.mp4")
    if shown < n - 2 * rate - 30:  # to its last fragment: a keyframe a second
        raise Bad("lost", f"overlay.mp4 plays {shown} frames of {n}")


def handling_signals(proc: subprocess.Popen) -> None:
    """Wait until the command catches SIGTERM (before that, as for any program
    starting up, a signal ends it the default way)."""

    def caught() -> bool:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        mask = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("SigCgt")), 16)
        return bool(mask & (1 << (SIGTERM - 1)))

    wait_for(caught, 60, "signal handlers")


def quiet_source_interrupted(work: Path, source: str, stdin: object = None) -> None:
    proc = subprocess.Popen(
        [*CLI, "run", source, *COMMON, "-q", "--prompt", "5,5", "--out", str(work / "o")],
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    handling_signals(proc)
    time.sleep(1)  # and waiting on the source
    r = signal_and_wait(proc, [SIGTERM])
    no_traceback(r)
    if r.returncode != 130 or "interrupted" not in r.stderr:
        raise Bad("wrong", f"exit {r.returncode}: {r.stderr[-200:]}")


@case
def stdin_open_but_silent(work: Path) -> None:
    quiet_source_interrupted(work, "-", stdin=subprocess.PIPE)


@case
def fifo_without_writer(work: Path) -> None:
    fifo = work / "video.fifo"
    os.mkfifo(fifo)
    quiet_source_interrupted(work, str(fifo))


@case
def expensive_frame(work: Path) -> None:
    from PIL import Image

    labels = np.zeros((240, 320), np.uint16)
    for i in range(300):  # 300 small objects: each frame takes seconds
        y, x = divmod(i, 20)
        labels[y * 15 + 4 : y * 15 + 10, x * 16 + 4 : x * 16 + 10] = i + 1
    Image.fromarray(labels).save(work / "labels.png")
    args = ["run", long_clip(work), *COMMON, "-q", "--mask", work / "labels.png"]
    proc = subprocess.Popen([*CLI, *map(str, args), "--out", str(work / "o")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)  # fmt: skip
    wait_for(lambda: frames_written(work / "o") >= 0, 120, "the first frame")
    r = signal_and_wait(proc, [SIGTERM])
    no_traceback(r)
    if r.returncode != 130:
        raise Bad("wrong", f"exit {r.returncode}: {r.stderr[-200:]}")
    g = store(work / "o", strict=False)
    if g.attrs["complete"] is not False:
        raise Bad("wrong", "complete after an interrupt")
    video_frames(work / "o" / "overlay.mp4")


def ts_bytes(work: Path, n: int = 48) -> bytes:
    from streamseg.testing.clips import disc_clip, encode

    path = work / f"clip{n}.ts"
    if not path.exists():
        frames, _ = disc_clip(n)
        encode(path, frames, fmt="mpegts")
    return path.read_bytes()


@case
def network_drop(work: Path) -> None:
    data = ts_bytes(work)
    part = data[: len(data) * 6 // 10 // 188 * 188]
    (work / "part.ts").write_bytes(part)
    expected = decodable(work / "part.ts")
    with serve_bytes(part, mode="close") as url:
        r = cli("run", url, *COMMON, "-q", "--prompt", "22,60", "--out", work / "o", timeout=60)
    clean_exit(r)
    expect_frames(work / "o", expected)


@case
def network_stall_signal(work: Path) -> None:
    data = ts_bytes(work)  # a second of frames (more than the probe), then silence
    with serve_bytes(data[: len(data) // 2 // 188 * 188], mode="stall") as url:
        args = [*CLI, "run", url, *COMMON, "-q", "--prompt", "22,60", "--out", str(work / "o")]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
        wait_for(lambda: frames_written(work / "o") >= 0, 60, "frames from the stream")
        r = signal_and_wait(proc, [SIGTERM])
    no_traceback(r)
    if r.returncode != 130:
        raise Bad("wrong", f"exit {r.returncode}: {r.stderr[-200:]}")
    store(work / "o")


@case
def reconnect_gives_up(work: Path) -> None:
    data = ts_bytes(work)
    with serve_bytes(data[: len(data) // 3 // 188 * 188], mode="close") as url:
        # no -q: giving up is a warning, and -q shows errors only
        r = cli("run", url, *COMMON, "--prompt", "22,60", "--out", work / "o",
                "--reconnect", "--set", "source.reconnect_tries=2", timeout=40)  # fmt: skip
    clean_exit(r)
    if "gave up" not in r.stderr:
        raise Bad("wrong", f"no 'gave up': {r.stderr[-200:]}")
    store(work / "o")


@case
def truncated_mp4(work: Path) -> None:
    import av

    from streamseg.testing.clips import disc_clip

    frames, _ = disc_clip(48)
    path = work / "fast.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    data = path.read_bytes()
    (work / "cut.mp4").write_bytes(data[: len(data) * 7 // 10])
    expected = decodable(work / "cut.mp4")
    r = cli("run", work / "cut.mp4", *COMMON, "-q", "--prompt", "22,60", "--out", work / "o")
    clean_exit(r)
    expect_frames(work / "o", expected)


@case
def disk_full_overlay(work: Path) -> None:
    args = ["run", long_clip(work), *COMMON, "-q", "--prompt", "40,120", "--out", work / "o"]
    r = cli(*args, file_size_limit=60_000, timeout=90)
    error_line(r, 4, "video")
    g = store(work / "o")
    if g.attrs["complete"] is not False:
        raise Bad("wrong", "complete: true while the overlay failed")
    if video_frames(work / "o" / "overlay.mp4") < 24:
        raise Bad("lost", "overlay.mp4 holds less than its first fragment")


@case
def disk_full_store_created(work: Path) -> None:
    args = ["run", clip(work), *COMMON, "-q", "--prompt", "22,60", "--out", work / "o"]
    r = cli(*args, "--set", "output.overlay=false", file_size_limit=1500, timeout=60)
    error_line(r, 4, "masks.zarr")


@case
def disk_full_store_mid_run(work: Path) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return  # needs a small tmpfs; the file size limit cases cover the rest
    disk = work / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)]).returncode:
        return
    try:
        args = ["run", long_clip(work), *COMMON, "-q", "--prompt", "40,120", "--out", disk / "o"]
        r = cli(*args, "--set", "output.overlay=false", timeout=90)
        error_line(r, 4)
        g = store(disk / "o")  # arrays exactly frames_written long
        if g.attrs["complete"] is not False:
            raise Bad("wrong", "complete: true on a full disk")
    finally:
        subprocess.run(["umount", "-l", str(disk)])


@case
def stdin_mp4_pipe(work: Path) -> None:
    cat = subprocess.Popen(["cat", str(long_clip(work))], stdout=subprocess.PIPE)
    assert cat.stdout is not None
    try:
        r = cli("run", "-", *COMMON, "-q", "--prompt", "5,5", "--out", work / "o", stdin=cat.stdout)
    finally:
        # Nothing reads the rest now: close our end and end cat, which may be blocked
        # on the full pipe (it would never exit on its own while our end is open).
        cat.stdout.close()
        cat.kill()
        cat.wait(10)
    error_line(r, 3, "MPEG-TS")


@case
def stdin_ts_faster_than_real_time(work: Path) -> None:
    data = ts_bytes(work, 96)  # written into the pipe as fast as it is read
    r = cli("run", "-", *COMMON, "-q", "--prompt", "22,60", "--out", work / "o", input=data)
    clean_exit(r)
    expect_frames(work / "o", 96)
