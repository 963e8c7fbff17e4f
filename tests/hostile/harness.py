"""What every hostile case shares: the real CLI in a subprocess, clips made here, verdicts.

A case is a function ``(work: Path) -> Verdict``. The verdict's ``kind`` is what the
closing table of issue #15 counts: "ok" (a clean one-line error or a clean finish, the
right exit code, valid outputs), "traceback", "hang" (no exit in time, or not within
2 s of a signal), "lost" (frames processed or decodable missing from the outputs) and
"wrong" (anything else: a wrong exit code, a value accepted that must be refused, more
than one line). Nothing here is streamseg's own code beyond the command line, so the
same cases run against an older checkout (``report.py``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLI_CODE = "from streamseg.cli import main; main()"
CLI = [sys.executable, "-c", CLI_CODE]
# Seconds from a signal to the exit. The bound is 2 s (report.py measures it);
# the tests allow more, since they must pass on a loaded machine (test_hostile.py sets it).
SIGNAL_LIMIT = float(os.environ.get("HOSTILE_SIGNAL_LIMIT", "2"))
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def limited_cli(file_size_limit: int) -> list[str]:
    """CLI with RLIMIT_FSIZE set first, in the run's own process. Not by ``preexec_fn``:
    that runs Python code between fork and exec, and with the pool's other threads busy
    in FFmpeg at the fork, the child was seen to deadlock there (freeing a PyAV
    reformatter whose slice threads it does not have), and Popen never returned."""
    limit = int(file_size_limit)
    setlimit = f"import resource; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))"
    return [sys.executable, "-c", f"{setlimit}; {CLI_CODE}"]


@dataclass
class Verdict:
    kind: str  # ok, traceback, hang, lost, wrong
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Result:
    returncode: int | None  # None: it did not end in time (killed)
    stderr: str
    seconds: float


class Bad(Exception):
    """A case's check failed: ``kind`` and what was seen."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.detail = kind, detail


CASES: dict[str, Callable[[Path], None]] = {}


def case(function: Callable[[Path], None]) -> Callable[[Path], None]:
    """Register a case; it raises Bad, or returns when everything held."""
    CASES[function.__name__] = function
    return function


def verdict(function: Callable[[Path], None], work: Path) -> Verdict:
    try:
        function(work)
    except Bad as bad:
        return Verdict(bad.kind, bad.detail[:300])
    except subprocess.TimeoutExpired as error:
        return Verdict("hang", str(error)[:300])
    except Exception as error:  # noqa: BLE001 - the harness reports, it does not crash
        return Verdict("wrong", f"{type(error).__name__}: {error}"[:300])
    return Verdict("ok")


def cli(
    *args: Any,
    timeout: float = 60,
    stdin: Any = None,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    file_size_limit: int | None = None,
) -> Result:
    """Run ``streamseg ARGS``; a run past ``timeout`` is killed and reported as a hang.
    ``file_size_limit``: bytes past which a file the run writes cannot grow (EFBIG)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [*(CLI if file_size_limit is None else limited_cli(file_size_limit)), *map(str, args)],
        stdin=subprocess.PIPE if input is not None else stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env or ENV,
    )
    try:
        _, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        tail = err.decode(errors="replace")[-200:]
        raise Bad("hang", f"no exit after {timeout:g} s: {tail}") from None
    return Result(proc.returncode, err.decode(errors="replace"), time.monotonic() - started)


def no_traceback(r: Result) -> None:
    if "Traceback" in r.stderr:
        raise Bad("traceback", r.stderr.strip()[-300:])


def error_line(r: Result, code: int, *texts: str) -> str:
    """A clean refusal: exit ``code``, one line 'streamseg: error: ...' holding ``texts``."""
    no_traceback(r)
    lines = [line for line in r.stderr.strip().splitlines() if line.strip()]
    if r.returncode != code:
        raise Bad("wrong", f"exit {r.returncode}, expected {code}: {r.stderr.strip()[-200:]}")
    if len(lines) != 1 or not lines[0].startswith("streamseg: error:"):
        raise Bad("wrong", f"not one error line: {r.stderr.strip()[-200:]}")
    for text in texts:
        if text.lower() not in lines[0].lower():
            raise Bad("wrong", f"{text!r} not in {lines[0]!r}")
    return lines[0]


def clean_exit(r: Result, code: int = 0) -> None:
    no_traceback(r)
    if r.returncode != code:
        raise Bad("wrong", f"exit {r.returncode}, expected {code}: {r.stderr.strip()[-300:]}")


def store(out: Path, strict: bool = True) -> Any:
    """OUT/masks.zarr, checked: arrays exactly frames_written long (``strict``; after a
    kill, at least that long: frames_written is what a reader trusts). Returns the group."""
    import zarr

    try:
        group = zarr.open_group(str(out / "masks.zarr"), mode="r")
        n = group.attrs["frames_written"]
        lengths = {name: group[name].shape[0] for name in ("masks", "time", "frame_index")}
    except Exception as error:  # noqa: BLE001 - any failure is an invalid store
        raise Bad("lost", f"masks.zarr unreadable: {error}") from error
    if any(length != n if strict else length < n for length in lengths.values()):
        raise Bad("lost", f"frames_written {n} but arrays {lengths}")
    if n and not (group["frame_index"][:n] == range(n)).all():
        raise Bad("lost", "frame_index is not 0..n-1")
    return group


def video_frames(path: Path) -> int:
    """Frames a video plays: decoded up to its first damaged packet (a player stops
    there too); Bad('lost') when it does not open at all."""
    import av

    try:
        container = av.open(str(path))
    except Exception as error:  # noqa: BLE001 - undecodable is the failure we look for
        raise Bad("lost", f"{path.name} does not open: {error}") from error
    count = 0
    with container:
        try:
            for packet in container.demux(video=0):
                count += len(packet.decode())
        except av.error.FFmpegError:  # a cut last fragment: what the decoder holds still plays
            with contextlib.suppress(av.error.FFmpegError):
                count += len(container.streams.video[0].codec_context.decode(None))
    return count


def decodable(path: Path) -> int:
    """Frames FFmpeg gets from a file, decoding single-threaded (nothing held back)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        count = 0
        try:
            for packet in container.demux(stream):
                try:
                    count += len(packet.decode())
                except av.error.FFmpegError:
                    continue
        except av.error.FFmpegError:
            pass
        return count


def expect_frames(out: Path, frames: int, complete: bool = True, overlay: bool = True) -> None:
    g = store(out)
    n = g.attrs["frames_written"]
    if n != frames:
        raise Bad("lost", f"{n} frames written, expected {frames}")
    if g.attrs["complete"] is not complete:
        raise Bad("wrong", f"complete is {g.attrs['complete']}, expected {complete}")
    if overlay and video_frames(out / "overlay.mp4") != frames:
        raise Bad("lost", f"overlay.mp4 has {video_frames(out / 'overlay.mp4')} of {frames}")


def start(*args: Any, stdin: Any = None, tty_progress: bool = False) -> subprocess.Popen:
    """Start ``streamseg ARGS`` in the background (stderr piped, text)."""
    return subprocess.Popen(
        [*CLI, *map(str, args)],
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=ENV,
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise Bad("hang", f"never saw {what} in {timeout:g} s")
        time.sleep(0.05)


def frames_written(out: Path) -> int:
    import zarr

    try:
        return int(zarr.open_group(str(out / "masks.zarr"), mode="r").attrs["frames_written"])
    except Exception:  # noqa: BLE001 - not there yet
        return -1


def signal_and_wait(
    proc: subprocess.Popen, signals: Sequence[int], gap: float = 0.0, limit: float = SIGNAL_LIMIT
) -> Result:
    """Send ``signals`` (``gap`` s apart); the exit must follow within ``limit`` s of the first."""
    sent = time.monotonic()
    for i, sig in enumerate(signals):
        if i:
            time.sleep(gap)
        if proc.poll() is None:
            proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=max(30.0, 5 * limit) + gap * len(signals))
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        tail = err.decode(errors="replace")[-200:]
        raise Bad("hang", f"no exit within 30 s of {signals}: {tail}") from None
    seconds = time.monotonic() - sent
    if seconds > limit + gap * len(signals):
        tail = err.decode(errors="replace")[-150:]
        raise Bad("hang", f"exit {seconds:.1f} s after {signals} (limit {limit:g} s): {tail}")
    return Result(proc.returncode, err.decode(errors="replace"), seconds)


_CLIPS_LOCK = threading.Lock()


def clip(work: Path, name: str = "clip.mp4", n: int = 24, **kwargs: Any) -> Path:
    """A disc clip (160x120, 24 fps unless told), made once per name for all cases
    (in ``work``'s parent, the run's root folder)."""
    from streamseg.testing.clips import disc_video

    path = work.parent / "_clips" / name
    with _CLIPS_LOCK:
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            disc_video(path.with_suffix(".partial.mp4"), n=n, **kwargs)
            path.with_suffix(".partial.mp4").rename(path)
    return path


COMMON = ("--model", "classic")
SIGKILL, SIGTERM, SIGINT, SIGHUP = signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP
