"""Feed `streamseg run -` a camera-like stream and report what live users see.

A producer encodes frames (H.264, zerolatency, MPEG-TS) and writes them into the
pipe at a fixed rate, like `ffmpeg -f v4l2 -i /dev/video0 -f mpegts -` would. At the
end it prints processed fps, drop rate and p50/p95 latency (from masks.zarr) and the
resident memory of the streamseg process sampled over the run (VmRSS, /proc).

    python scripts/live_bench.py --seconds 60 --fps 30 --size 640x480
    python scripts/live_bench.py --seconds 600
    python scripts/live_bench.py --seconds 60 --browser -- --preview 8765   # page open

Frames come from a DAVIS sequence played forwards and backwards ($STREAMSEG_TEST_DATA,
default ../shared/data) or, without it, from a synthetic moving disc.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np

from streamseg.track.points import interior_points

REPO = Path(__file__).resolve().parents[1]


def load_frames(size: tuple[int, int]) -> tuple[list[np.ndarray], str]:
    """Frames at ``size`` (w, h) and a prompt for `--mask`/`--prompt` on the first one."""
    root = Path(os.environ.get("STREAMSEG_TEST_DATA", REPO.parent / "shared" / "data"))
    seq = root / "davis2016-train" / "JPEGImages" / "480p" / "bear"
    if not seq.is_dir():
        from streamseg.testing.clips import disc_clip

        frames, masks = disc_clip(160, *size)
        ys, xs = np.nonzero(masks[0])
        return frames, f"{int(xs.mean())},{int(ys.mean())}"
    frames = [
        cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), size)
        for p in sorted(seq.glob("*.jpg"))
    ]
    truth = cv2.imread(str(root / "davis2016-train/Annotations/480p/bear/00000.png"), 0)
    truth = cv2.resize(truth, size, interpolation=cv2.INTER_NEAREST) > 0
    x, y = interior_points(truth)[0]
    return frames + frames[-2:0:-1], f"{x:.0f},{y:.0f}"


def produce(pipe, frames: list[np.ndarray], fps: float, seconds: float) -> None:
    """Encode and write frames at ``fps`` for ``seconds`` into ``pipe`` (a camera)."""
    height, width = frames[0].shape[:2]
    with av.open(pipe, "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"tune": "zerolatency", "preset": "ultrafast"}
        start = time.monotonic()
        for i in range(int(fps * seconds)):
            delay = start + i / fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
            pipe.flush()
    pipe.close()


def watch(url: str, proc: subprocess.Popen) -> None:
    """Keep the preview page open in headless Chromium until the run ends."""
    from streamseg.testing.browser import headless_chromium, open_preview, shown_frame

    with tempfile.TemporaryDirectory() as profile, headless_chromium(Path(profile)) as driver:
        time.sleep(2)
        open_preview(driver, url, frames=3, timeout=60)
        shown = []
        while proc.poll() is None:
            shown.append(shown_frame(driver))
            time.sleep(1)
        print(f"page showed frames up to {max(shown)}", file=sys.stderr)  # noqa: T201


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--fps", type=float, default=30)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--model", default="classic")
    parser.add_argument(
        "--browser",
        action="store_true",
        help="watch the --preview page in headless Chromium during the run",
    )
    parser.add_argument("extra", nargs="*", help="more `streamseg run` arguments, after --")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    frames, point = load_frames(size)  # type: ignore[arg-type]
    out = Path(tempfile.mkdtemp()) / "live"
    command = [
        sys.executable,
        "-m",
        "streamseg",
        "run",
        "-",
        "--prompt",
        point,
        "--model",
        args.model,
        "--out",
        str(out),
        "-q",
        *args.extra,
    ]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE)
    producer = threading.Thread(target=produce, args=(proc.stdin, frames, args.fps, args.seconds))
    producer.start()
    viewer = None
    if args.browser:
        port = args.extra[args.extra.index("--preview") + 1].rsplit(":", 1)[-1]
        viewer = threading.Thread(
            target=watch, args=(f"http://127.0.0.1:{port}/", proc), daemon=True
        )
        viewer.start()
    samples: list[tuple[float, int]] = []
    start = time.monotonic()
    while proc.poll() is None:
        try:
            samples.append((time.monotonic() - start, rss_kib(proc.pid)))
        except FileNotFoundError:
            break
        time.sleep(1.0)
    producer.join()
    import zarr

    attrs = dict(zarr.open_group(str(out / "masks.zarr"), mode="r").attrs)
    stats = attrs["stats"]
    sent = int(args.fps * args.seconds)
    report = {
        "frames_sent": sent,
        "frames_processed": attrs["frames_written"],
        "processed_fps": attrs["frames_written"] / args.seconds,
        "drop_rate": stats["dropped"] / max(sent, 1),
        "latency_p50_ms": 1000 * (stats["latency_p50"] or 0),
        "latency_p95_ms": 1000 * (stats["latency_p95"] or 0),
        "rss_mib_by_minute": {int(t // 60) + 1: round(r / 1024, 1) for t, r in samples},
        "rss_peak_mib": round(max(r for _, r in samples) / 1024, 1) if samples else None,
    }
    print(json.dumps(report, indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
