"""The command line through its real entry point (a subprocess running `streamseg`)."""

import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import zarr
from helpers import CLI, frames_written, streamseg

from streamseg.testing.clips import audio_only, disc_clip, disc_video, encode, iou


def test_run_info_export(tmp_path, clip):
    path, masks = clip
    out = tmp_path / "out"
    r = streamseg("run", path, "--prompt", "22,60", "--out", out, "--model", "classic", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # --quiet: no progress
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    assert g.attrs["complete"] is True and g.attrs["frames_written"] == 24
    assert g["masks"].shape == (24, 1, 120, 160)
    assert g.attrs["engine"]["name"] == "classic"
    assert g.attrs["config"]["model"]["name"] == "classic"
    assert g.attrs["source"]["width"] == 160 and g.attrs["source"]["fps"] == 24
    assert g.attrs["objects"][0]["prompts"][0]["points"] == [[22.0, 60.0]]
    with av.open(str(out / "overlay.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 24  # fragmented: no count in a header
        assert [s.type for s in c.streams] == ["video", "audio"]
    r = streamseg("info", out)
    assert r.returncode == 0 and "24 written, complete: true" in r.stdout
    r = streamseg("export", out, "--format", "png")
    assert r.returncode == 0 and "wrote 24 PNG files" in r.stdout
    from PIL import Image

    first = Image.open(out / "png" / "00000.png")
    assert first.mode == "P"
    assert np.array_equal(np.array(first) == 1, g["masks"][0, 0])


def test_progress_and_default_out(tmp_path):
    videos, work = tmp_path / "videos", tmp_path / "work"
    videos.mkdir()
    work.mkdir()
    path = videos / "clip.mp4"
    disc_video(path, n=12)
    r = streamseg("run", path, "--prompt", "22,60", "--model", "classic", cwd=work)
    assert r.returncode == 0, r.stderr
    assert (work / "clip.streamseg" / "masks.zarr").is_dir()  # in the current folder
    assert sorted(p.name for p in videos.iterdir()) == ["clip.mp4"]  # the input's untouched
    assert "frame/s" in r.stderr and "wrote 12 frames" in r.stderr
    again = streamseg("run", path, "--prompt", "22,60", "--model", "classic", cwd=work)
    assert again.returncode == 4 and "--overwrite" in again.stderr
    args = ("--model", "classic", "--overwrite", "--max-frames", "5")
    assert streamseg("run", path, "--prompt", "22,60", *args, cwd=work).returncode == 0
    g = zarr.open_group(str(work / "clip.streamseg" / "masks.zarr"), mode="r")
    assert g.attrs["frames_written"] == 5


def test_auto_says_it_uses_classic(tmp_path, clip, weights_home):
    r = streamseg("run", clip[0], "--prompt", "22,60", "--out", tmp_path / "o")
    assert r.returncode == 0
    assert "the weight-free classic engine runs" in r.stderr
    quiet = streamseg("run", clip[0], "--prompt", "22,60", "--out", tmp_path / "q", "-q")
    assert quiet.returncode == 0 and quiet.stderr == ""  # -q: errors only
    g = zarr.open_group(str(tmp_path / "o" / "masks.zarr"), mode="r")
    assert g.attrs["engine"]["requested"] == "auto" and g.attrs["engine"]["name"] == "classic"
    # it looked in the test's own empty cache, never in the developer's real one
    assert f"no SAM weights in {weights_home / 'weights'}" in g.attrs["engine"]["reason"]


def test_mask_prompt_multiple_objects_and_set(tmp_path, clip):
    from PIL import Image

    path, masks = clip
    labels = masks[0].astype(np.uint8)  # object 1: the disc
    labels[100:115, 130:155] = 2  # object 2: a patch of background
    Image.fromarray(labels).save(tmp_path / "m.png")
    r = streamseg(
        "run",
        path,
        "--mask",
        tmp_path / "m.png",
        "--prompt",
        "80,20",
        "--out",
        tmp_path / "o",
        "--model",
        "classic",
        "-q",
        "--set",
        "output.overlay=false",
    )
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "o" / "overlay.mp4").exists()
    g = zarr.open_group(str(tmp_path / "o" / "masks.zarr"), mode="r")
    assert [o["id"] for o in g.attrs["objects"]] == [1, 2, 3]
    assert g["masks"].shape == (24, 3, 120, 160)
    assert iou(g["masks"][0, 0], masks[0]) > 0.95  # a given mask is kept as given


def one_line_error(r, code, text):
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("streamseg: error:"), r.stderr
    assert "Traceback" not in r.stderr
    assert text in lines[0]


def test_error_cases(tmp_path, clip):
    path, _ = clip
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    audio = audio_only(tmp_path / "audio.m4a")
    blocker = tmp_path / "file"
    blocker.write_text("")
    common = ["--model", "classic", "-q"]
    cases = [
        (["run", tmp_path / "missing.mp4", "--prompt", "1,1"], 3, "no such file"),
        (["run", notes, "--prompt", "1,1"], 3, "as video"),
        (["run", audio, "--prompt", "1,1"], 3, "no video stream"),
        (
            ["run", path, "--prompt", "1,1", "--start", "60", "--out", tmp_path / "z"],
            3,
            "no frame could be decoded",
        ),
        (["run", path, "--prompt", "1,1", "--out", blocker / "sub"], 4, "cannot write"),
        (["run", path, "--prompt", "500,10"], 2, "outside the 160x120 frame"),
        (["run", path, "--prompt", "10;x"], 2, "malformed --prompt"),
        (["run", path, "--prompt", "10,10", "--model", "sam-vit-q"], 5, "unknown model"),
        (["run", path, "--prompt", "10,10", "--set", "classic.nope=1"], 2, "unknown config"),
        (["run", path, "--prompt", "10,10", "--dtype", "fp16"], 2, "dtype 'fp16' is unknown"),
        (["run", path, "--prompt", "10,10", "--set", "model.dtype=half"], 2, "'half' is unknown"),
        (["run", path, "--prompt", "10,10", "--max-frames", "0"], 2, "--max-frames 0: give 1"),
        (["run", path, "--prompt", "10,10", "--checkpoint", notes], 2, "--checkpoint is for SAM"),
        (["bench", path, "--max-frames", "0"], 2, "--max-frames 0: give 1"),
        (["bench", path, "--random-weights", "--device", "meta"], 5, "cannot run on meta"),
        (["run", path], 2, "no prompt given"),
        (["run", path, "--prompt", "1,1", "--frobnicate"], 2, "No such option"),
        (["info", tmp_path], 3, "no masks.zarr"),
        (
            ["run", path, "--prompt", "1,1", "--video-out", tmp_path / "nope" / "x.mp4"],
            4,
            "no folder",
        ),
        (
            ["run", path, "--inpaint", "remove", "--inpaint-objects", "1,x", "--prompt", "1,1"],
            2,
            "--inpaint-objects",
        ),
    ]
    for args, code, text in cases:
        extra = common if args[0] == "run" else []  # options go first: a case may override
        one_line_error(streamseg(args[0], *extra, *args[1:]), code, text)
    assert not (tmp_path / "z").exists()  # nothing decoded: no empty output left behind


def test_truncated_video_gives_valid_partial_output(tmp_path):
    images, _ = disc_clip(48)
    data = encode(tmp_path / "clip.ts", images, fmt="mpegts").read_bytes()
    (tmp_path / "cut.ts").write_bytes(data[: len(data) // 2])
    r = streamseg(
        "run",
        tmp_path / "cut.ts",
        "--prompt",
        "22,60",
        "--model",
        "classic",
        "--out",
        tmp_path / "o",
        "-q",
    )
    assert r.returncode == 0, r.stderr
    g = zarr.open_group(str(tmp_path / "o" / "masks.zarr"), mode="r")
    n = g.attrs["frames_written"]
    assert 5 < n < 48 and g["masks"].shape[0] == n and g.attrs["complete"] is True
    with av.open(str(tmp_path / "o" / "overlay.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == n


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_finalizes_outputs(tmp_path, sig):
    path = tmp_path / "long.mp4"
    disc_video(path, n=600, width=320, height=240)
    out = tmp_path / "o"
    proc = subprocess.Popen(
        [
            *CLI,
            "run",
            str(path),
            "--prompt",
            "40,120",
            "--out",
            str(out),
            "--model",
            "classic",
            "-q",
            "--set",
            "output.chunk_frames=4",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"},
    )
    deadline = time.monotonic() + 120  # generous: a loaded machine starts slowly
    while frames_written(out) < 8:  # frames are flowing
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"no 8 frames written in 120 s:\n{proc.communicate()[1]}")
        time.sleep(0.05)
    proc.send_signal(sig)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
        pytest.fail(f"no exit after {sig!r}:\n{proc.communicate()[1]}")
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    n = g.attrs["frames_written"]
    assert g.attrs["complete"] is False and 8 <= n < 600
    assert g["masks"].shape[0] == n and g["time"].shape == (n,)
    assert np.all(np.diff(g["time"][:]) > 0)
    with av.open(str(out / "overlay.mp4")) as c:  # finalized: playable to its end
        assert abs(sum(1 for _ in c.decode(video=0)) - n) <= 16  # queued frames may add


def test_help_loads_nothing_heavy():
    # What keeps start-up fast, not a stopwatch (a loaded machine would fail that):
    # `python -X importtime` gives the figures.
    r = subprocess.run(
        [sys.executable, "-c", "from streamseg.cli import main; main()", "--help"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "run" in r.stdout
    modules = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from streamseg import cli; "
            "print(' '.join(m for m in ('torch', 'cv2', 'av', 'zarr') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
    )
    assert modules.stdout.strip() == ""  # nothing heavy at import time


def test_http_url(tmp_path, clip):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(clip[0].parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{clip[0].name}"
        r = streamseg(
            "run",
            url,
            "--no-live",
            "--prompt",
            "22,60",
            "--model",
            "classic",
            "-q",
            "--out",
            tmp_path / "o",
        )
    finally:
        server.shutdown()
    assert r.returncode == 0, r.stderr
    g = zarr.open_group(str(tmp_path / "o" / "masks.zarr"), mode="r")
    assert g.attrs["frames_written"] == 24 and g.attrs["source"]["kind"] == "url"


def test_image_folder_source(tmp_path):
    import cv2

    images, _ = disc_clip(6)
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, image in enumerate(images):
        cv2.imwrite(str(frames / f"{i:05d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    for spec in (frames, frames / "%05d.jpg"):
        r = streamseg(
            "run",
            spec,
            "--prompt",
            "22,60",
            "--model",
            "classic",
            "-q",
            "--fps",
            "12",
            "--overwrite",
            cwd=tmp_path,
        )
        assert r.returncode == 0, r.stderr
    g = zarr.open_group(str(tmp_path / "frames.streamseg" / "masks.zarr"), mode="r")
    assert g.attrs["frames_written"] == 6
    assert np.allclose(g["time"][:], np.arange(6) / 12)


def test_inpaint_remove_writes_rendered_video(tmp_path, clip):
    path, masks = clip
    out = tmp_path / "o"
    r = streamseg(
        "run",
        path,
        "--prompt",
        "22,60",
        "--model",
        "classic",
        "--inpaint",
        "remove",
        "--inpaint-backend",
        "opencv",
        "--out",
        out,
        "-q",
    )
    assert r.returncode == 0, r.stderr
    with av.open(str(out / "rendered.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert [s.type for s in c.streams] == ["video", "audio"]
    assert len(frames) == 24
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    assert g.attrs["inpaint"]["backend"] == "opencv" and g.attrs["inpaint"]["mode"] == "remove"
    assert g.attrs["inpaint"]["stats"]["frames"] == 24
    # the red disc is gone where it was segmented
    seg = g["masks"][12, 0]
    assert frames[12][seg].mean(axis=0)[0] < 150
    r = streamseg("run", path, "--prompt", "22,60", "--inpaint", "replace", "--out", tmp_path / "p")
    one_line_error(r, 2, "--inpaint-prompt")


def test_a_refused_run_keeps_the_previous_results(tmp_path, clip):
    out = tmp_path / "o"
    assert (
        streamseg(
            "run", clip[0], "--prompt", "22,60", "--model", "classic", "-q", "--out", out
        ).returncode
        == 0
    )
    r = streamseg(
        "run", clip[0], "--prompt", "gaze", "--model", "classic", "-q", "--out", out, "--overwrite"
    )  # gaze needs an Aria recording: refused before clearing
    one_line_error(r, 2, "--gaze PATH")
    assert zarr.open_group(str(out / "masks.zarr"), mode="r").attrs["frames_written"] == 24


def run_into_unread_pipe(tmp_path, argv, meanwhile=None) -> tuple[int, str]:
    """`streamseg ARGV --video-out -` with stdout a pipe nobody reads (a paused player)
    and a 1 s stall limit; ``meanwhile(proc, read_end)`` runs before the wait. (exit
    code, stderr); a run still going after 120 s is aborted, its threads' stacks in stderr."""
    read_end, write_end = os.pipe()
    try:
        with open(tmp_path / "stderr.txt", "w+") as errors:
            proc = subprocess.Popen(
                [*CLI, *map(str, argv), "-q", "--video-out", "-", "--set", "output.stall=1"],
                stdout=write_end,
                stderr=errors,
                env={**os.environ, "PYTHONFAULTHANDLER": "1"},
            )
            os.close(write_end)
            if meanwhile is not None:
                meanwhile(proc, read_end)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
                proc.wait()
            errors.seek(0)
            return proc.returncode, errors.read()
    finally:
        os.close(read_end)


def blocked_in_a_pipe_write(pid: int) -> bool | None:
    """Whether a thread of process ``pid`` sleeps in the kernel's pipe write (Linux
    /proc/PID/task/*/wchan: pipe_write, anon_pipe_write...); None where that is unknown."""
    import glob

    seen = None
    for task in glob.glob(f"/proc/{pid}/task/*/wchan"):
        try:
            wchan = Path(task).read_text()
        except OSError:
            continue
        seen = seen or wchan not in ("", "0")
        if "pipe_write" in wchan or "pipe_wait_writable" in wchan:
            return True
    return False if seen else None


def wait_until_pipe_is_full(proc, read_end, timeout: float = 120) -> None:
    """Return once the pipe behind ``read_end`` is full and the run blocked writing to it,
    judged by the bytes waiting in it and where the writer sleeps, not by time: on a
    slow or loaded machine the run may take many seconds to start, or pause between
    frames. Without /proc wchan: the bytes waiting unchanged for 3 s."""
    import fcntl
    import termios

    # F_GETPIPE_SZ (Linux): the pipe's capacity; elsewhere assume the common 64 KiB.
    try:
        capacity = fcntl.fcntl(read_end, getattr(fcntl, "F_GETPIPE_SZ", 1032))
    except OSError:
        capacity = 65536
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline and proc.poll() is None:
        (waiting,) = struct.unpack("i", fcntl.ioctl(read_end, termios.FIONREAD, b"\0" * 4))
        if waiting != last:
            last, since = waiting, time.monotonic()
        # pages left part-filled between writes: a blocked writer may leave a few KiB
        if waiting >= capacity // 2:
            blocked = blocked_in_a_pipe_write(proc.pid)
            if blocked or (blocked is None and time.monotonic() - since > 3):
                return
        time.sleep(0.1)
    pytest.fail(f"the video pipe never filled (exit code {proc.poll()}, {last} bytes in it)")


def test_interrupt_with_a_stdout_video_nobody_reads(tmp_path):
    path = tmp_path / "long.mp4"
    disc_video(path, n=600, width=320, height=240)
    out = tmp_path / "o"

    def interrupt_once_stalled(proc, read_end):
        wait_until_pipe_is_full(proc, read_end)  # the full pipe holds the run back
        proc.send_signal(signal.SIGINT)

    argv = ["run", path, "--prompt", "40,120", "--out", out, "--model", "classic"]
    code, stderr = run_into_unread_pipe(tmp_path, argv, interrupt_once_stalled)
    assert code == 130, stderr
    assert "video output took nothing for 1 s" in stderr and "Traceback" not in stderr
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    n = g.attrs["frames_written"]
    assert g.attrs["complete"] is False and 8 <= n < 600 and g["masks"].shape[0] == n


def test_a_complete_run_into_a_stdout_pipe_nobody_reads_ends(tmp_path):
    # Three frames of noise: x264 holds them all back, so every write "succeeds" and
    # it is the encoder's flush at the end that meets the full pipe.
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(3)]
    path = encode(tmp_path / "noise.mp4", frames)
    out = tmp_path / "o"
    argv = ["run", path, "--prompt", "320,240", "--out", out, "--model", "classic"]
    code, stderr = run_into_unread_pipe(tmp_path, argv)
    assert code == 4, stderr  # an output error: the video is not whole
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "video output took nothing for 1 s" in lines[0], stderr
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")  # the masks are all there,
    # but the run's outputs are not: complete is never true when one of them failed
    assert g.attrs["frames_written"] == 3 and g.attrs["complete"] is False


def test_the_classic_engine_runs_without_importing_torch(tmp_path):
    """``--model auto`` without weights and ``classic``: no torch, diffusers,
    transformers or huggingface_hub (seconds of start-up, frames lost on a live stream)."""
    path = tmp_path / "clip.mp4"
    disc_video(path, n=3)
    code = (
        "import sys; from streamseg.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'diffusers', 'transformers', 'segment_anything', 'huggingface_hub')\n"
        "print('HEAVY', ' '.join(m for m in heavy if m in sys.modules))"
    )
    for model in ("auto", "classic"):
        args = ["run", str(path), "--prompt", "22,60", "--model", model, "-q"]
        r = subprocess.run(
            [sys.executable, "-c", code, *args, "--out", str(tmp_path / model)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "HEAVY", (model, r.stdout)
        assert r.stderr == ""  # -q: errors only
