"""Live input: stdin streams paced like a camera, stale-frame dropping, latency."""

import subprocess
import sys
import threading

import numpy as np
import zarr
from synthetic import disc_clip, pace, stream_chunks

CLI = [sys.executable, "-c", "from streamseg.cli import main; main()"]


def run_piped(tmp_path, frames, fps, *args):
    """Run `streamseg run -` fed ``frames`` as a stream at ``fps`` (None: all at once)."""
    chunks = stream_chunks(frames, fps=fps or 30)
    height, width = frames[0].shape[:2]
    point = f"{min(width, height) // 6 + 2},{height // 2}"  # the disc's centre on frame 0
    out = tmp_path / "o"
    proc = subprocess.Popen(
        [*CLI, "run", "-", "--prompt", point, "--model", "classic", "--out", str(out), *args],
        stdin=subprocess.PIPE,
        bufsize=0,  # unbuffered: each chunk reaches the pipe when a camera would send it
        stderr=subprocess.PIPE,
    )

    def feed():
        try:
            if fps is None:
                proc.stdin.write(b"".join(chunks))
            else:
                pace(proc.stdin.write, chunks, fps)
            proc.stdin.close()
        except (BrokenPipeError, ValueError):  # the reader stopped early
            pass

    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()))
    writer = threading.Thread(target=feed)
    reader.start()
    writer.start()
    writer.join(timeout=180)
    proc.wait(timeout=180)
    reader.join()
    stderr = errors[0].decode()
    assert proc.returncode == 0, stderr
    return zarr.open_group(str(out / "masks.zarr"), mode="r"), stderr


def test_unpaced_live_pipe_drops_stale_frames_and_counts_them(tmp_path):
    frames, _ = disc_clip(150, 320, 240)
    g, stderr = run_piped(tmp_path, frames, None, "--set", "output.overlay=false")
    stats = g.attrs["stats"]
    n = g.attrs["frames_written"]
    assert stats["dropped"] > 0 and n + stats["dropped"] == 150  # every frame seen once
    index = g["frame_index"][:]
    assert np.all(np.diff(index) >= 1) and index[-1] <= 149  # drops leave gaps, in order
    latency = g["latency"][:]
    assert latency.shape == (n,) and np.all(latency > 0)
    assert stats["latency_p95"] >= stats["latency_p50"] > 0
    assert "dropped" in stderr and "p95" in stderr


def test_no_live_processes_every_frame(tmp_path):
    frames, _ = disc_clip(60, 320, 240)
    g, _ = run_piped(tmp_path, frames, None, "--no-live", "-q")
    assert g.attrs["frames_written"] == 60 and g.attrs["stats"]["dropped"] == 0
    assert g["frame_index"][:].tolist() == list(range(60))


def test_paced_stream_keeps_up_with_low_latency(tmp_path):
    frames, _ = disc_clip(60, 160, 120)  # small frames: the engine keeps up at 15 fps
    g, _ = run_piped(tmp_path, frames, 15, "-q")
    stats = g.attrs["stats"]
    assert g.attrs["frames_written"] + stats["dropped"] == 60
    # Only the start may drop (FFmpeg probes 0.5 s of input before the first frame);
    # once running, every frame of a paced stream is processed.
    index = g["frame_index"][:].tolist()
    steady = [i for i in index if 20 <= i < 55]
    assert steady == list(range(20, 55))
    assert stats["latency_p50"] < 0.25  # seconds from arrival to result
